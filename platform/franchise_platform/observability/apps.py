from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "franchise_platform.observability"
    label = "observability"

    def ready(self) -> None:
        # Celery signals (task latency, task id as the log's request id, JSON logs in workers)
        # and the optional Sentry client. Both are cheap no-ops where they do not apply.
        # local: receivers connect once the app registry is ready
        from . import celery_signals, sentry

        celery_signals.connect()
        sentry.sentry_init()
