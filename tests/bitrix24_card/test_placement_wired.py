"""The deal tab with nothing patched: a portal installed through the platform's own install
callback and claimed by a network, then its frame POST and the widget API with the frame token."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlencode

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import CrmConnection
from tests.fakes.bitrix24 import FakeBitrix24
from tests.personas import platform_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def wired(portal):
    """The portal installed through the install callback and claimed (conftest.install_portal)."""
    with tenant_context(portal.net.network):
        assert CrmConnection.objects.filter(crm="bitrix24", account_id=portal.member_id).exists()
    return portal.b24, portal.member_id


def open_tab(b24: FakeBitrix24, member_id: str, deal_id: int, **changes: str):
    query, body = b24.placement_frame(member_id, deal_id)
    fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
    fields.update(changes)
    return platform_client().post(
        f"/integrations/bitrix24/placement/?{urlencode(query)}",
        urlencode(fields).encode(),
        content_type="application/x-www-form-urlencoded",
    )


def test_an_installed_claimed_portal_opens_the_tab_and_calls_the_widget_api(wired):
    b24, member_id = wired
    deal_id = b24.add_deal(member_id)

    response = open_tab(b24, member_id, deal_id)

    assert response.status_code == 200, response.content.decode()[:400]
    domain = b24.portal(member_id).domain
    assert f"frame-ancestors https://{domain}" in response["Content-Security-Policy"]
    config = json.loads(
        re.search(
            r'<script id="fpl-config" type="application/json">(.*?)</script>',
            response.content.decode(),
            re.S,
        ).group(1)
    )
    shown = platform_client().get(
        f"/api/widget/v1/leads/{deal_id}/links", HTTP_X_FRAME_TOKEN=config["token"]
    )
    assert shown.status_code == 404, shown.content  # nothing generated yet, but we are let in
    assert shown.json()["code"] == "links_not_generated"
    pressed = platform_client().post(
        f"/api/widget/v1/leads/{deal_id}/links",
        "{}",
        content_type="application/json",
        HTTP_X_FRAME_TOKEN=shown["X-Frame-Token"],
    )
    # the deal has no location chosen: the manager is told so, by the real read of the deal
    assert pressed.status_code == 422, pressed.content
    assert pressed["X-Frame-Token"]


def test_the_stored_application_token_is_the_one_checked(wired):
    b24, member_id = wired

    response = open_tab(b24, member_id, b24.add_deal(member_id), APPLICATION_TOKEN="e" * 32)

    assert response.status_code == 403
    assert 'data-code="bad_application_token"' in response.content.decode()
