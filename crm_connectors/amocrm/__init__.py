"""amoCRM (and Kommo, the same platform): OAuth, API v4 client, lead fields, webhooks,
widget tokens. Protocol reference: shared/specs/amocrm.md."""
