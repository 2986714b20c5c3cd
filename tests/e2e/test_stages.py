"""Pipeline stages end to end (issue 15, item 5): the owner maps events to stages in the panel
(pipelines read from amoCRM by the live server), buyers pay through Robokassa, and the real worker
moves the lead: once per event, forward only, never back past a manager's own move."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import CrmPipeline, OutboxKind, OutboxMessage, OutboxStatus
from tests.live import wait_for

pytestmark = pytest.mark.worker

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class OwnerPanel:
    """The owner signed in to the network's panel on the live server (cookies carried by hand:
    the loopback transport rewrites hosts, so the jar would file them under 127.0.0.1)."""

    def __init__(self, net) -> None:
        self.net = net
        self.client = net.server.client()
        self.cookies: dict[str, str] = {}
        self._keep(self.client.get(f"http://{net.host}{net._owner_login_path()}"))

    def _keep(self, response):
        self.cookies.update(dict(response.cookies.items()))
        return response

    def _headers(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def get(self, path: str):
        return self._keep(self.client.get(f"http://{self.net.host}{path}", headers=self._headers()))

    def post(self, path: str, data: dict[str, str]):
        token = CSRF.search(self.get("/panel/integrations/").text).group(1)
        return self._keep(
            self.client.post(
                f"http://{self.net.host}{path}",
                data={**data, "csrfmiddlewaretoken": token},
                headers=self._headers(),
            )
        )


def _links(body):
    return {link["kind"]: link for link in body["links"]}


def _stage_messages(net, lead_id):
    with tenant_context(net.network()):
        return list(
            OutboxMessage.objects.filter(kind=OutboxKind.LEAD_STAGE, deal__crm_deal_id=lead_id)
        )


def test_payments_move_the_lead_forward_once_and_never_back_past_the_manager(live_network):
    net = live_network
    ip = net.add_partner(
        name="ИП Иванов Иван Иванович",
        legal_form="ip",
        inn="500100732259",
        tax_system="usn_income",
        vat="none",
        login=f"{net.slug}-ip",
        algorithm="md5",
    )
    room = net.add_location("Квест «Тайная комната», ул. Баумана 1", ip)
    net.connect_amocrm()
    amo, account = net.amo, net.account_id
    main = amo.main_pipeline_id(account)
    stage = {
        name: amo.stage_id(account, main, name)
        for name in (
            "Первичный контакт",
            "Переговоры",
            "Принимают решение",
            "Согласование договора",
        )
    }

    # The owner reads the pipelines from amoCRM and maps the two payment events.
    panel = OwnerPanel(net)
    refreshed = panel.post("/panel/integrations/amocrm/pipelines/refresh/", {})
    assert refreshed.status_code == 302, refreshed.text
    with tenant_context(net.network()):
        assert CrmPipeline.objects.filter(pipeline_id=str(main)).exists()
    mapped = panel.post(
        f"/panel/integrations/amocrm/pipelines/{main}/",
        {
            f"p{main}-prepayment_paid": str(stage["Переговоры"]),
            f"p{main}-fully_paid": str(stage["Принимают решение"]),
        },
    )
    assert mapped.status_code == 302, mapped.text
    page = panel.get("/panel/integrations/").text
    assert "Этапы воронок" in page and "Этапы воронки «Воронка» сохранены." in page

    # Lead 1: prepayment → «Переговоры» once; the rest → «Принимают решение».
    amo.set_lead(account, 7101, 5000, location_enum_id=net.location_enum(room))
    links = _links(net.widget("POST", 7101).json())
    net.pay(links["prepayment"]["url"])
    wait_for(
        lambda: amo.lead(account, 7101)["status_id"] == stage["Переговоры"],
        what="lead moved to the prepayment stage",
    )
    wait_for(
        lambda: [m.status for m in _stage_messages(net, 7101)] == [OutboxStatus.SENT],
        what="stage message sent",
    )
    assert amo.stage_moves(account, 7101) == [stage["Переговоры"]]

    net.pay(links["full"]["url"])
    wait_for(
        lambda: amo.lead(account, 7101)["status_id"] == stage["Принимают решение"],
        what="lead moved to the fully-paid stage",
    )
    wait_for(
        lambda: [m.status for m in _stage_messages(net, 7101)] == [OutboxStatus.SENT] * 2,
        what="both stage messages sent",
    )
    assert amo.stage_moves(account, 7101) == [stage["Переговоры"], stage["Принимают решение"]]

    # Lead 2: after the prepayment a manager drags it further by hand; the full payment's event
    # is delivered and leaves the lead where the manager put it.
    amo.set_lead(account, 7102, 4000, location_enum_id=net.location_enum(room))
    links = _links(net.widget("POST", 7102).json())
    net.pay(links["prepayment"]["url"])
    wait_for(
        lambda: amo.lead(account, 7102)["status_id"] == stage["Переговоры"],
        what="second lead moved to the prepayment stage",
    )
    wait_for(
        lambda: [m.status for m in _stage_messages(net, 7102)] == [OutboxStatus.SENT],
        what="second lead's stage message sent",
    )
    amo.move_lead_by_hand(account, 7102, stage["Согласование договора"])

    net.pay(links["full"]["url"])
    wait_for(
        lambda: [m.status for m in _stage_messages(net, 7102)] == [OutboxStatus.SENT] * 2,
        what="the fully-paid event delivered",
    )
    wait_for(lambda: net.widget("GET", 7102).json()["deal"]["status"] == "paid", what="deal paid")
    assert amo.lead(account, 7102)["status_id"] == stage["Согласование договора"]
    assert amo.stage_moves(account, 7102) == [stage["Переговоры"]]
    assert amo.max_rps_seen(account) <= 7
