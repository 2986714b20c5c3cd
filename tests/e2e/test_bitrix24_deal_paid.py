"""Bitrix24 from sign-up to a paid deal (issue 17, item 5), with a real gunicorn and Celery
worker, real PostgreSQL and Redis, the strict fake Bitrix24 and the fake Robokassa: a network
signs up through the live API, the fake portal posts its install to the live server, the owner
claims it in the panel and maps the payment events to the pipeline's stages; the deal tab's frame
POST opens the card, «Сформировать ссылки» goes through the widget API with the frame token; the
prepayment paid through Robokassa's callback shows in the deal (the paid sum, the status, one
timeline comment, the mapped stage), then the rest; the portal's limits are never exceeded."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import CrmConnection, CrmPipeline
from tenants.claims import claim_code_issue
from tenants.models import CrmAccountBinding
from tests.fakes.bitrix24 import FakeBitrix24
from tests.live import start_server, wait_for

from .test_stages import OwnerPanel

pytestmark = pytest.mark.worker

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CONFIG = re.compile(r'<script id="fpl-config" type="application/json">(.*?)</script>', re.S)
PREPAID_STAGE = "PREPAYMENT_INVOIC"
PAID_STAGE = "EXECUTING"


@pytest.fixture(scope="module")
def live_b24():
    with FakeBitrix24(seed=1718) as fake:
        yield fake


@pytest.fixture
def b24_live_stack(app_server, celery_worker, stack_env, live_port, live_b24, settings):
    """The session's server and worker restarted with the app's keys and the fake's address
    (this process's settings likewise); restored after."""
    env = {
        "BITRIX24_CLIENT_ID": live_b24.client_id,
        "BITRIX24_CLIENT_SECRET": live_b24.client_secret,
        "BITRIX24_API_BASE_URL": live_b24.base_url,
    }
    for key, value in env.items():
        setattr(settings, key, value)
    original = dict(celery_worker.env)
    celery_worker.stop()
    celery_worker.env = {**original, **env}
    celery_worker.start()
    app_server.stop()
    app_server.proc = start_server({**stack_env, **env}, live_port).proc
    try:
        yield live_b24
    finally:
        app_server.stop()
        app_server.proc = start_server(stack_env, live_port).proc
        celery_worker.stop()
        celery_worker.env = original
        celery_worker.start()


def _links(body):
    return {link["kind"]: link for link in body["links"]}


def _connection(network, member_id):
    with tenant_context(network):
        return CrmConnection.objects.filter(crm="bitrix24", account_id=member_id).first()


class DealTab:
    """The deal tab as the portal opens it: the frame POST, then the widget API, each call with
    the frame token the previous answer carried."""

    def __init__(self, net, b24: FakeBitrix24, member_id: str, deal_id: int) -> None:
        self.net, self.deal_id = net, deal_id
        query, body = b24.placement_frame(member_id, deal_id)
        with net.server.client() as client:
            page = client.post(
                f"/integrations/bitrix24/placement/?{urlencode(query)}", content=body, headers=FORM
            )
        assert page.status_code == 200, page.text[:400]
        assert (
            f"frame-ancestors https://{b24.portal(member_id).domain}"
            in (page.headers["Content-Security-Policy"])
        )
        assert '<script src="/static/card/card.js">' in page.text  # the shared card frontend
        self.token = json.loads(CONFIG.search(page.text).group(1))["token"]

    def call(self, method: str):
        with self.net.server.client() as client:
            response = client.request(
                method,
                f"/api/widget/v1/leads/{self.deal_id}/links",
                content=b"{}" if method == "POST" else None,
                headers={"X-Frame-Token": self.token, "Content-Type": "application/json"},
            )
        self.token = response.headers.get("X-Frame-Token", self.token)
        return response


def test_sign_up_install_button_prepayment_rest_paid_in_the_deal(live_network, b24_live_stack):
    net, b24 = live_network, b24_live_stack
    ip = net.add_partner(
        name="ИП Иванов Иван Иванович",
        legal_form="ip",
        inn="500100732259",
        tax_system="usn_income",
        vat="none",
        login=f"{net.slug}-b24",
        algorithm="md5",
    )
    room = net.add_location("Квест «Тайная комната», ул. Баумана 1", ip)
    member_id = b24.add_portal(domain=f"{net.slug}.bitrix24.com")
    network = net.network()
    try:
        # The portal's administrator installs the app: the portal posts ONAPPINSTALL.
        with net.server.client() as client:
            installed = client.post(
                "/integrations/bitrix24/install/",
                content=b24.install_callback(member_id),
                headers=FORM,
            )
        assert installed.status_code == 200, installed.text
        binding = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id)
        assert binding.state == CrmAccountBinding.State.UNBOUND

        # The owner types the portal's claim code in the panel.
        code = claim_code_issue(crm="bitrix24", account_id=member_id, user_id=1, is_admin=None)
        connection.set_schema_to_public()
        panel = OwnerPanel(net)
        claimed = panel.post("/panel/integrations/claim/", {"code": code.code})
        assert claimed.status_code == 302, claimed.text[:400]
        binding.refresh_from_db()
        assert binding.state == CrmAccountBinding.State.BOUND
        assert binding.network_id == network.pk

        # The worker creates the deal fields (the location's option among them).
        option = wait_for(
            lambda: (
                (c := _connection(network, member_id))
                and c.field_map.get("location_options", {}).get(room["id"])
            ),
            what="the location's option in the portal",
            timeout=60,
        )

        # The owner reads the portal's pipelines and maps the payment events to stages.
        refreshed = panel.post("/panel/integrations/amocrm/pipelines/refresh/", {})
        assert refreshed.status_code == 302, refreshed.text[:400]
        with tenant_context(network):
            assert CrmPipeline.objects.filter(pipeline_id="0").exists()
        connection.set_schema_to_public()
        mapped = panel.post(
            "/panel/integrations/amocrm/pipelines/0/",
            {"p0-prepayment_paid": PREPAID_STAGE, "p0-fully_paid": PAID_STAGE},
        )
        assert mapped.status_code == 302, mapped.text[:400]

        # A manager opens a deal of 5000 at the location and presses «Сформировать ссылки».
        deal_id = b24.add_deal(
            member_id, title="Квест на 6", opportunity="5000.00", UF_CRM_FP_LOCATION=str(option)
        )
        tab = DealTab(net, b24, member_id, deal_id)
        assert tab.call("GET").json()["code"] == "links_not_generated"
        pressed = tab.call("POST")
        assert pressed.status_code == 200, pressed.text
        body = pressed.json()
        assert body["partner"]["id"] == ip["id"]
        assert body["location"]["id"] == room["id"]
        links = _links(body)
        assert links["prepayment"]["amount"] == "1500.00"
        assert links["full"]["amount"] == "5000.00"
        assert tab.call("POST").json()["links"] == body["links"]  # second press: same links

        # The links reach the deal's URL fields through the outbox.
        wait_for(
            lambda: (
                b24.deal(member_id, deal_id).get("UF_CRM_FP_FULL_URL") == links["full"]["url"]
                and b24.deal(member_id, deal_id).get("UF_CRM_FP_PREPAY_URL")
                == links["prepayment"]["url"]
            ),
            what="links written into the deal",
            timeout=60,
        )

        # The buyer pays the prepayment; Robokassa's callback reaches the live server.
        inv_id, out_sum, delivery = net.pay(links["prepayment"]["url"])
        assert out_sum == Decimal("1500.00")
        assert (delivery.status, delivery.body) == (200, f"OK{inv_id}")
        wait_for(
            lambda: _deal_shows(b24, member_id, deal_id, "1500.00", "Частично оплачено"),
            what="the prepayment in the deal",
            timeout=60,
        )
        wait_for(
            lambda: b24.deal(member_id, deal_id)["STAGE_ID"] == PREPAID_STAGE,
            what="the deal moved to the prepayment's stage",
            timeout=60,
        )
        wait_for(
            lambda: len(_payment_comments(b24, member_id, deal_id, "1500.00")) == 1,
            what="the prepayment's timeline comment",
            timeout=60,
        )
        (comment,) = _payment_comments(b24, member_id, deal_id, "1500.00")
        assert ip["name"] in comment and str(inv_id) in comment
        after = _links(tab.call("GET").json())
        assert after["prepayment"]["status"] == "paid"
        assert after["full"]["amount"] == "3500.00"
        assert after["full"]["url"] == links["full"]["url"]

        # The rest.
        rest_id, rest_sum, delivery = net.pay(links["full"]["url"])
        assert rest_sum == Decimal("3500.00")
        assert (delivery.status, delivery.body) == (200, f"OK{rest_id}")
        final = wait_for(
            lambda: (b := tab.call("GET").json())["deal"]["status"] == "paid" and b,
            what="the deal paid",
            timeout=60,
        )
        assert (final["deal"]["paid"], final["deal"]["remaining"]) == ("5000.00", "0.00")
        wait_for(
            lambda: _deal_shows(b24, member_id, deal_id, "5000.00", "Оплачено"),
            what="the full payment in the deal",
            timeout=60,
        )
        wait_for(
            lambda: b24.deal(member_id, deal_id)["STAGE_ID"] == PAID_STAGE,
            what="the deal moved to the fully-paid stage",
            timeout=60,
        )
        wait_for(
            lambda: len(_payment_comments(b24, member_id, deal_id, "3500.00")) == 1,
            what="the rest's timeline comment",
            timeout=60,
        )
        # Each payment commented once, never twice (the outbox has nothing left to send).
        wait_for(lambda: _outbox_idle(network), what="the outbox drained", timeout=60)
        assert len(_payment_comments(b24, member_id, deal_id, "1500.00")) == 1
        assert len(_payment_comments(b24, member_id, deal_id, "3500.00")) == 1

        # The portal's limits were respected throughout.
        refused = [
            c
            for c in b24.calls_of(member_id)
            if c.error in ("QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT")
        ]
        assert refused == []
        assert len(b24.calls_of(member_id)) > 10  # the portal was really worked with
    finally:
        connection.set_schema_to_public()
        CrmAccountBinding.objects.filter(crm="bitrix24", account_id=member_id).delete()


def _deal_shows(b24, member_id, deal_id, paid: str, status_label: str) -> bool:
    deal = b24.deal(member_id, deal_id)
    status = b24.userfield(member_id, "UF_CRM_FP_PAY_STATUS")
    labels = {o["ID"]: o["VALUE"] for o in status.get("LIST", [])}
    return (
        deal.get("UF_CRM_FP_PAID_SUM") == f"{paid}|RUB"
        and labels.get(str(deal.get("UF_CRM_FP_PAY_STATUS"))) == status_label
    )


def _payment_comments(b24, member_id, deal_id, amount: str) -> list[str]:
    return [
        c["COMMENT"]
        for c in b24.comments(member_id, deal_id)
        if f"Оплата {amount} ₽ получена" in c["COMMENT"]
    ]


def _outbox_idle(network) -> bool:
    from franchise_platform.crm_sync.models import OutboxMessage, OutboxStatus

    with tenant_context(network):
        return not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists()
