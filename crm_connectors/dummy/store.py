"""A ``DummyCrmStore`` kept in a JSON file, for the local demo: the web's processes and the Celery
worker then see the same leads (the in-memory store is one process's only).

Every use of ``store.lock`` (the connector takes it around each call) holds an exclusive ``flock``
on a sibling lock file, loads the file on the outermost entry and writes it back atomically
(a temporary file renamed over it) on the outermost exit.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from crm_connectors.base import BuyerContact, DealStateUpdate

from .connector import DummyAccount, DummyCrmStore, DummyLead


class _FileLock:
    """Re-entrant within a thread; exclusive across threads and processes."""

    def __init__(self, store: FileCrmStore) -> None:
        self.store = store
        self._local = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def __enter__(self) -> _FileLock:
        self._local.acquire()
        if self._depth == 0:
            try:
                self._fd = os.open(self.store.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                self.store._load()
            except BaseException:
                self._release_fd()
                self._local.release()
                raise
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                try:
                    self.store._save()
                finally:
                    self._release_fd()
        finally:
            self._local.release()

    def _release_fd(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class FileCrmStore(DummyCrmStore):
    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock = _FileLock(self)  # type: ignore[assignment]
        self._next = 1000

    def next_id(self) -> int:
        with self.lock:
            self._next += 1
            return self._next

    def account(self, account_id: int) -> DummyAccount:
        with self.lock:
            return self.accounts.setdefault(account_id, DummyAccount())

    @contextmanager
    def reading(self) -> Iterator[dict[int, DummyAccount]]:
        """The accounts as they are in the file, under the lock (for a page that shows them)."""
        with self.lock:
            yield self.accounts

    # -- (de)serialisation --------------------------------------------------------------------

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        self._next = int(data.get("next_id", 1000))
        self.accounts = {
            int(key): _account_from(value) for key, value in data.get("accounts", {}).items()
        }

    def _save(self) -> None:
        data = {
            "next_id": self._next,
            "accounts": {str(k): _account_to(v) for k, v in self.accounts.items()},
        }
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=1)
        os.replace(tmp, self.path)


def _lead_to(lead: DummyLead) -> dict[str, Any]:
    state = lead.state
    return {
        "lead_id": lead.lead_id,
        "title": lead.title,
        "price": str(lead.price),
        "location_key": lead.location_key,
        "updated_at": lead.updated_at.isoformat(),
        "state": None
        if state is None
        else {
            "prepayment_url": state.prepayment_url,
            "full_url": state.full_url,
            "paid_sum": str(state.paid_sum),
            "status_label": state.status_label,
        },
        "notes": [[note_id, text] for note_id, text in lead.notes],
        "contact": None
        if lead.contact is None
        else {"email": lead.contact.email, "phone": lead.contact.phone},
    }


def _lead_from(data: dict[str, Any]) -> DummyLead:
    state = data.get("state")
    return DummyLead(
        lead_id=int(data["lead_id"]),
        title=str(data["title"]),
        price=Decimal(data["price"]),
        location_key=data.get("location_key"),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        state=None
        if state is None
        else DealStateUpdate(
            lead_id=int(data["lead_id"]),
            prepayment_url=state["prepayment_url"],
            full_url=state["full_url"],
            paid_sum=Decimal(state["paid_sum"]),
            status_label=state["status_label"],
        ),
        notes=[(int(n), str(t)) for n, t in data.get("notes", [])],
        contact=BuyerContact(**contact) if (contact := data.get("contact")) else None,
    )


def _account_to(account: DummyAccount) -> dict[str, Any]:
    return {
        "leads": {str(k): _lead_to(v) for k, v in account.leads.items()},
        "location_options": account.location_options,
        "option_labels": {str(k): v for k, v in account.option_labels.items()},
        "webhooks": sorted(account.webhooks),
    }


def _account_from(data: dict[str, Any]) -> DummyAccount:
    return DummyAccount(
        leads={int(k): _lead_from(v) for k, v in data.get("leads", {}).items()},
        location_options={str(k): int(v) for k, v in data.get("location_options", {}).items()},
        option_labels={int(k): str(v) for k, v in data.get("option_labels", {}).items()},
        webhooks=set(data.get("webhooks", [])),
    )
