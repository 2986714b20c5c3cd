"""Observability: Prometheus metrics (/metrics), task metrics and log context for Celery, Sentry.

The core reports through the tiny helpers in `metrics` (one call per event); nothing here changes
what the core does, and a failing metric never fails a request or a task.
"""
