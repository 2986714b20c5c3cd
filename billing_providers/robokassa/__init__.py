"""Robokassa (auth.robokassa.ru): payment links, ResultURL checks, OpStateExt, receipts.

The core reaches it through ``billing_providers.registry`` (slug ``"robokassa"``).
"""
