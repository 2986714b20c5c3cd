"""The live stack for end-to-end tests: the fakes of Robokassa and amoCRM, a real gunicorn serving
the app on the test database, and the environment a real Celery worker needs to reach them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from django_tenants.utils import tenant_context

from tenants.models import Network
from tests.fakes.loopback import loopback_client
from tests.worker import LOG_DIR, ROOT, worker_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port}"

    def client(self) -> httpx.Client:
        """A client that reaches both the platform host and `<slug>.localhost` network hosts."""
        return loopback_client(base_url=self.base_url, timeout=30, follow_redirects=False)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def stack_env(*, port: int, robokassa, amo) -> dict[str, str]:
    """What the server and the worker both need: the fakes' addresses and short sweep delays."""
    return {
        **worker_env(),
        "PLATFORM_BASE_URL": f"http://localhost:{port}",
        "ROBOKASSA_PAYMENT_URL": robokassa.payment_url,
        "ROBOKASSA_API_BASE_URL": robokassa.api_base_url,
        "AMOCRM_API_BASE_URL": amo.base_url,
        "SWEEP_GRACE_SECONDS": "2",
        "OUTBOX_LEASE_SECONDS": "8",
        "RECONCILE_AFTER_MINUTES": "0",
    }


def start_server(
    env: dict[str, str], port: int, *, workers: int = 3, threads: int = 8
) -> LiveServer:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = (LOG_DIR / "live-server.log").open("wb")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "franchise_platform.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("live server exited; see tests/artifacts/live-server.log")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return LiveServer(port, proc)
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("live server did not answer /healthz within 60 s")


def wait_for(
    predicate, *, timeout: float = 30, interval: float = 0.2, what: str = "condition", explain=None
):
    """Poll until `predicate()` is truthy; returns its value or fails with `what` (and what
    `explain()` says of the state, when given: a timeout in CI is then diagnosable)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(f"timed out waiting for {what}{detail}")
        time.sleep(interval)


def max_rps_since(amo, account_id: int, since: float) -> int:
    """Most /api/v4 requests of the account that reached the fake in any 1-second window after
    `since` (time.monotonic()). The OAuth exchange's account lookup happens before the account is
    known, so it cannot be rate-limited per account; measurements start after the connect."""
    times = sorted(
        r.at
        for r in list(amo.requests)
        if r.account_id == account_id and r.path.startswith("/api/v4") and r.at >= since
    )
    best = start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


# -- a network signed up through the live API --------------------------------------------------

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
            callback = client.get(
                "/integrations/amocrm/oauth/callback/",
                params={
                    "code": self.amo.authorize(self.account_id),
                    "state": state,
                    "referer": f"{self.amo.accounts[self.account_id].subdomain}.amocrm.ru",
                },
            )
            # The connect finishes in the network's panel, signed in as the person who asked.
            assert callback.status_code == 302, callback.text
            signed_in = client.get(f"http://{self.host}{self._owner_login_path()}")
            assert signed_in.status_code == 302, signed_in.text
            # The loopback transport rewrites the host, so the jar would file the session cookie
            # under 127.0.0.1: hand it over explicitly.
            session = "; ".join(f"{k}={v}" for k, v in signed_in.cookies.items())
            response = client.get(callback.headers["Location"], headers={"Cookie": session})
        assert response.status_code == 200, response.text
        wait_for(lambda: self.field_map(), what="lead fields created by the worker")

    def _owner_login_path(self) -> str:
        """A one-time sign-in link for the owner the API token belongs to."""
        from franchise_platform.accounts.models import Role, User
        from tenants.login_link import login_link_path

        network = self.network()
        with tenant_context(network):
            owner = User.objects.filter(role=Role.OWNER).order_by("pk").first()
            assert owner is not None
            return login_link_path(network=network, user=owner)

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


__all__ = [
    "LiveNetwork",
    "LiveServer",
    "free_port",
    "max_rps_since",
    "os",
    "stack_env",
    "start_server",
    "wait_for",
]
