"""The registry, the dummy connector, and the package's dependency rule."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from crm_connectors.amocrm.connector import AmoCrmConnector
from crm_connectors.amocrm.ratelimit import NullRateLimiter
from crm_connectors.base import CrmAccountRef, DealStateUpdate, LocationOption
from crm_connectors.dummy.connector import DummyCrmConnector, DummyCrmStore
from crm_connectors.errors import CrmNotFound, CrmValidationError
from crm_connectors.registry import CONNECTORS, get_connector
from tests.fakes.amocrm import FakeAmoCrm

ROOT = Path(__file__).resolve().parents[2]


def test_every_registered_connector_imports() -> None:
    assert set(CONNECTORS) == {"amocrm", "bitrix24", "dummy"}
    assert isinstance(get_connector("dummy", store=DummyCrmStore()), DummyCrmConnector)


def test_unknown_slug_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        get_connector("kommo")


def test_get_connector_builds_amocrm(
    fake: FakeAmoCrm, account_id: int, make_tokens: object
) -> None:
    from crm_connectors.amocrm.oauth import InMemoryTokenStore

    connector = get_connector(
        "amocrm",
        account=CrmAccountRef(account_id, fake.base_url),
        token_store=InMemoryTokenStore(make_tokens(fake.issue_tokens(account_id))),  # type: ignore[operator]
        limiter=NullRateLimiter(),
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        redirect_uri=fake.redirect_uri,
    )

    assert isinstance(connector, AmoCrmConnector)
    fields = connector.ensure_fields([LocationOption("a", "Квест")], None)
    assert fields.location_options["a"] > 0


def test_dummy_connector_round_trip() -> None:
    crm = DummyCrmConnector(account_id=5, store=DummyCrmStore())
    fields = crm.ensure_fields([LocationOption("a", "Квест «А»")], None)
    crm.seed_lead(7001, title="Сделка", price=Decimal("5000"), location_key="a")

    lead = crm.read_lead(7001, fields)
    crm.write_deal_state(
        DealStateUpdate(7001, "https://x/pay/1", "https://x/pay/2", Decimal(0), "open"), fields
    )
    note_id = crm.add_note_once(7001, "Ссылки созданы [m:1]", marker="[m:1]")

    assert lead.price == Decimal("5000")
    assert lead.location_key == "a"
    assert lead.location_label == "Квест «А»"
    assert crm.lead(7001).state is not None
    assert crm.add_note_once(7001, "Ссылки созданы [m:1]", marker="[m:1]") == note_id
    assert crm.ensure_fields([LocationOption("a", "Квест «А»")], fields) == fields
    with pytest.raises(CrmNotFound):
        crm.read_lead(1, fields)
    with pytest.raises(CrmValidationError):
        crm.write_deal_state(DealStateUpdate(7001, None, None, Decimal(0), "???"), fields)


def test_crm_connectors_imports_neither_django_nor_the_core() -> None:
    code = (
        "import sys, crm_connectors.registry, crm_connectors.amocrm.connector, "
        "crm_connectors.amocrm.oauth, crm_connectors.amocrm.widget_token, "
        "crm_connectors.amocrm.ratelimit, crm_connectors.dummy.connector\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('django', 'franchise_platform', 'tenants', 'billing_providers')]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
