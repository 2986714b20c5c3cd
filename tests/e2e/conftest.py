"""End-to-end: a real gunicorn, a real Celery worker, real PostgreSQL and Redis, and the fakes of
Robokassa and amoCRM. Every network here is signed up through the live API and dropped after."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from tenants.models import CrmAccountBinding, Network
from tests.live import wait_for

pytestmark = pytest.mark.worker

PASSWORD = "E2e-Strong-Password-77"


@dataclass
class LiveNetwork:
    server: Any
    slug: str
    token: str
    amo: Any
    robokassa: Any
    account_id: int | None = None
    partners: list[dict] = field(default_factory=list)
    locations: list[dict] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"{self.slug}.localhost:{self.server.port}"

    def api(self) -> httpx.Client:
        """A client on the network's host (the loopback transport resolves it)."""
        client = self.server.client()
        client.base_url = f"http://{self.host}"
        client.headers["Authorization"] = f"Bearer {self.token}"
        return client

    def network(self) -> Network:
        return Network.objects.get(slug=self.slug)

    def widget(self, method: str, lead_id: int, body: dict | None = None) -> httpx.Response:
        token = self.amo.make_widget_token(self.account_id, aud=self.server.base_url)
        with self.server.client() as client:
            return client.request(
                method,
                f"/api/widget/v1/leads/{lead_id}/links",
                json=body if method == "POST" else None,
                headers={"X-Auth-Token": token},
            )

    def add_partner(self, *, name, legal_form, inn, tax_system, vat, login, algorithm) -> dict:
        shop = {
            "merchant_login": login,
            "password1": f"{login}-p1",
            "password2": f"{login}-p2",
            "test_password1": f"{login}-t1",
            "test_password2": f"{login}-t2",
            "hash_algorithm": algorithm,
        }
        with self.api() as api:
            response = api.post(
                "/api/v1/partners",
                json={
                    "name": name,
                    "legal_form": legal_form,
                    "inn": inn,
                    "tax_system": tax_system,
                    "vat": vat,
                    "robokassa": shop,
                },
            )
        assert response.status_code == 201, response.text
        partner = response.json()
        self.robokassa.register_shop(
            login,
            shop["password1"],
            shop["password2"],
            shop["test_password1"],
            shop["test_password2"],
            hash_algorithm=algorithm,
            result_url=partner["robokassa"]["result_url"],
        )
        self.partners.append(partner)
        return partner

    def add_location(self, name: str, partner: dict) -> dict:
        with self.api() as api:
            response = api.post(
                "/api/v1/locations", json={"name": name, "partner_id": partner["id"]}
            )
        assert response.status_code == 201, response.text
        self.locations.append(response.json())
        return response.json()

    def connect_amocrm(self) -> None:
        self.account_id = self.amo.add_account()
        with self.api() as api:
            state = parse_qs(
                urlsplit(api.post("/api/v1/crm/amocrm/connect").json()["authorize_url"]).query
            )["state"][0]
        with self.server.client() as client:
            response = client.get(
                "/integrations/amocrm/oauth/callback/",
                params={
                    "code": self.amo.authorize(self.account_id),
                    "state": state,
                    "referer": f"{self.amo.accounts[self.account_id].subdomain}.amocrm.ru",
                },
            )
        assert response.status_code == 200, response.text
        wait_for(lambda: self.field_map(), what="lead fields created by the worker")

    def field_map(self) -> dict:
        from franchise_platform.crm_sync.models import CrmConnection

        with tenant_context(self.network()):
            crm = CrmConnection.objects.filter(account_id=self.account_id).first()
            return crm.field_map if crm else {}

    def location_enum(self, location: dict) -> int:
        return wait_for(
            lambda: self.field_map().get("location_options", {}).get(location["id"]),
            what="location option in amoCRM",
        )

    def pay(self, link_url: str, *, notify: bool = True) -> tuple[int, Decimal, Any]:
        """The buyer follows our link to the payment page and pays. Returns (InvId, OutSum, delivery)."""
        with self.server.client() as client:
            redirect = client.get(link_url)
        assert redirect.status_code == 302, redirect.text
        target = redirect.headers["Location"]
        assert target.startswith(self.robokassa.payment_url)
        page = httpx.get(target, timeout=10)
        assert page.status_code == 200
        assert "X-Robokassa-Error" not in page.headers, page.headers.get("X-Robokassa-Error")
        query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        inv_id = int(query["InvId"])
        delivery = self.robokassa.pay(query["MerchantLogin"], inv_id, notify=notify)
        return inv_id, Decimal(query["OutSum"]), delivery


@pytest.fixture
def live_network(app_server, celery_worker, live_amo, robokassa_server, django_db_blocker):
    slug = f"e2e-{uuid.uuid4().hex[:8]}"
    with app_server.client() as client:
        response = client.post(
            "/api/v1/signup",
            json={
                "network_name": "ЧеЗаКвест?! E2E",
                "slug": slug,
                "owner_email": f"owner@{slug}.test",
                "owner_password": PASSWORD,
            },
        )
    assert response.status_code == 201, response.text
    net = LiveNetwork(app_server, slug, response.json()["api_token"], live_amo, robokassa_server)
    with django_db_blocker.unblock():
        yield net
        connection.set_schema_to_public()
        if net.account_id:
            CrmAccountBinding.objects.filter(account_id=net.account_id).delete()
        Network.objects.get(slug=slug).delete(force_drop=True)
