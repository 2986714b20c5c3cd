"""YooKassa (api.yookassa.ru/v3): payments by API with redirect confirmation, notifications
checked by source address and by re-reading the object, refunds, settlement receipts, and OAuth
for partners. See shared/specs/yookassa.md; section numbers in comments refer to it.

The core reaches it through ``billing_providers.registry`` (slug ``"yookassa"``).
"""
