"""A fake provider for local development: no network, HMAC-SHA256 signatures."""
