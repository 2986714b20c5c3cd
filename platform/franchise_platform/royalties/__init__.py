"""Royalties: a rule per partner, a monthly statement per partner, and the owner's weekly summary."""
