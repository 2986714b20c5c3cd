"""Bitrix24 cloud portals: OAuth installs, REST deals, events, the deal-card placement."""
