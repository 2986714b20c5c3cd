"""The demo's sandbox (settings.DEMO_SANDBOX, on in `make run` and `make dev`, never in production):
the demo network's seed, a stand-in amoCRM deal card on the platform host that runs the real widget
against the dummy CRM, and the dummy provider's payment page on the network host."""
