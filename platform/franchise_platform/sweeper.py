"""Re-queue background work whose Celery message was lost; the database is the source of truth.
Each app registers what it sweeps; the lifecycle issue fills these in."""

from __future__ import annotations

from collections.abc import Callable

SWEEPERS: list[Callable[[], None]] = []
RECONCILERS: list[Callable[[], None]] = []


def network_sweep() -> None:
    for sweep in SWEEPERS:
        sweep()


def network_reconcile() -> None:
    for reconcile in RECONCILERS:
        reconcile()
