"""CRM connectors: the core reaches a CRM only through ``registry.get_connector``.

Pure Python (httpx, redis-py, PyJWT); nothing here imports Django or the core.
"""
