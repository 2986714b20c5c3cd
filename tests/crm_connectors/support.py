"""Helpers the CRM connector tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_connectors.base import OAuthTokens


def tokens_from(pair: dict[str, Any], *, expires_at: datetime | None = None) -> OAuthTokens:
    """The pair a fake's token endpoint answered, as the store holds it."""
    return OAuthTokens(
        access_token=pair["access_token"],
        refresh_token=pair["refresh_token"],
        expires_at=expires_at or datetime.now(UTC) + timedelta(seconds=pair["expires_in"]),
    )


class Sleeps:
    """Records backoff sleeps instead of sleeping, so tests stay fast and can assert bounds."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def most_within(stamps: Sequence[float], seconds: float = 1.0) -> int:
    """The most grants in any window of ``seconds``."""
    ordered = sorted(stamps)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def run_in_threads(
    target: Callable[..., None], args: Iterable[tuple[Any, ...]], *, timeout: float
) -> None:
    """One thread per ``args`` entry, all started before any is joined."""
    threads = [threading.Thread(target=target, args=a) for a in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
