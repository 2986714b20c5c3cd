"""Shop passwords are write-only: never in an API answer, a log line, the audit table or a page."""

from __future__ import annotations

import logging

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.security.models import AuditEntry
from tests.network.conftest import SECRETS, partner_body, patch_json, post_json

pytestmark = pytest.mark.django_db


def test_passwords_never_leave_through_answers_logs_audit_or_pages(owner_a, net_a, caplog):
    caplog.set_level(logging.DEBUG)
    api = owner_a.api()
    bodies = []

    created = post_json(api, "/api/v1/partners", partner_body())
    pid = created.json()["id"]
    bodies.append(created)
    bodies.append(api.get("/api/v1/partners"))
    bodies.append(api.get(f"/api/v1/partners/{pid}"))
    bodies.append(
        patch_json(
            api, f"/api/v1/partners/{pid}", {"robokassa": {"password1": SECRETS["password1"] + "x"}}
        )
    )
    # Refused requests that carry passwords: the error must not echo them either.
    bodies.append(post_json(api, "/api/v1/partners", partner_body(inn="1")))
    bodies.append(post_json(api, "/api/v1/partners", partner_body(tax_system="nope")))
    bodies.append(post_json(net_a.viewer.api(), "/api/v1/partners", partner_body()))
    panel = owner_a.browser_client()
    for url in (
        "/panel/",
        "/panel/partners/",
        f"/panel/partners/{pid}/",
        f"/panel/partners/{pid}/edit/",
        "/panel/audit/",
    ):
        bodies.append(panel.get(url))
    with tenant_context(net_a.network):
        audit = " ".join(f"{e.changes} {e.object_repr}" for e in AuditEntry.objects.all())

    for secret in SECRETS.values():
        for response in bodies:
            assert secret not in response.content.decode(), response.request["PATH_INFO"]
        assert secret not in caplog.text
        assert secret not in audit
    assert "••• изменён" in audit
