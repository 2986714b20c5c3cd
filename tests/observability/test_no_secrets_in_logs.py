"""Structured logs carry a request id and the network, and never a secret.

Sentinel secrets are planted where the platform keeps them: a sign-up password (and the API token
the sign-up answers), a partner's four Robokassa passwords set through the network API, amoCRM
tokens in a CrmConnection, the metrics token, the master key. Then the flows run: sign-up (also a
refused one), partner and location creation, links, Robokassa callbacks with a bad and a good
signature, the callback applied by its Celery task. Everything logged is captured (the root logger
and every logger at DEBUG, SQL included) and scanned: no sentinel may appear. The same HTTP flows
run once more against a real gunicorn (scripts/entrypoint.sh web, LOG_LEVEL=DEBUG) whose whole
output is scanned too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import CrmConnection
from franchise_platform.network.models import Location
from franchise_platform.payments import callbacks
from franchise_platform.payments.models import CallbackEvent
from franchise_platform.payments.tasks import callback_apply_task
from franchise_platform.request_context import ContextFilter, JsonFormatter
from tenants.models import Network
from tests.deploy.support import (
    ROOT,
    SCRATCH_REDIS_URL,
    free_port,
    role_env,
    running,
    scratch_broker,
)
from tests.factories import IP_INN
from tests.fakes.robokassa import result_callback_form
from tests.observability.flows import issued_invoice
from tests.payments.helpers import deal_with_links
from tests.personas import network_drop

METRICS_TOKEN = "SENTINEL-metrics-" + uuid.uuid4().hex


def _sentinel(kind: str) -> str:
    return f"SENTINEL-{kind}-{uuid.uuid4().hex[:12]}"


@dataclass
class Secrets:
    signup_password: str = field(default_factory=lambda: _sentinel("signup") + "-Aa9")
    weak_password: str = field(default_factory=lambda: "7" + str(uuid.uuid4().int)[:15])
    password1: str = field(default_factory=lambda: _sentinel("rk-p1"))
    password2: str = field(default_factory=lambda: _sentinel("rk-p2"))
    test_password1: str = field(default_factory=lambda: _sentinel("rk-tp1"))
    test_password2: str = field(default_factory=lambda: _sentinel("rk-tp2"))
    access_token: str = field(default_factory=lambda: _sentinel("amo-access"))
    refresh_token: str = field(default_factory=lambda: _sentinel("amo-refresh"))
    api_token: str = ""  # the one the sign-up answers

    def all(self) -> dict[str, str]:
        values = {k: v for k, v in self.__dict__.items() if v}
        values["metrics_token"] = METRICS_TOKEN
        values["master_key"] = settings.PLATFORM_ENCRYPTION_KEYS[0]
        values["amocrm_client_secret"] = settings.AMOCRM_CLIENT_SECRET
        return values


class Http:
    """The same calls through Django's test client or through a real server."""

    def __init__(self, request: Callable[..., tuple[int, Any]]) -> None:
        self.request = request

    def json(self, method: str, host: str, path: str, body: Any = None, token: str = "") -> Any:
        return self.request(method, host, path, json_body=body, token=token)

    def form(self, host: str, path: str, data: dict[str, str]) -> Any:
        return self.request("POST", host, path, form=data)


def django_http() -> Http:
    def request(method, host, path, json_body=None, form=None, token=""):
        headers = {"HTTP_HOST": host}
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        client = Client(raise_request_exception=False)
        if form is not None:
            response = client.post(path, form, **headers)
        elif json_body is not None:
            response = client.generic(
                method, path, json.dumps(json_body), "application/json", **headers
            )
        else:
            response = client.generic(method, path, **headers)
        return response.status_code, response.content.decode()

    return Http(request)


def server_http(base: str) -> Http:
    def request(method, host, path, json_body=None, form=None, token=""):
        headers = {"Host": host}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = httpx.request(
            method, base + path, headers=headers, json=json_body, data=form, timeout=30
        )
        return response.status_code, response.text

    return Http(request)


def run_flows(http: Http, secrets: Secrets, slug: str) -> Network:
    """Sign-up, partner with its shop, location, links, callbacks; returns the new network."""
    platform = settings.PLATFORM_DOMAIN
    refused, _ = http.json(
        "POST",
        platform,
        "/api/v1/signup",
        {
            "network_name": "Утечки",
            "slug": slug + "-x",
            "owner_email": f"weak@{slug}.test",
            "owner_password": secrets.weak_password,
        },
    )
    assert refused == 422
    status, body = http.json(
        "POST",
        platform,
        "/api/v1/signup",
        {
            "network_name": "Сеть без утечек",
            "slug": slug,
            "owner_email": f"owner@{slug}.test",
            "owner_password": secrets.signup_password,
        },
    )
    assert status == 201, body
    answer = json.loads(body)
    secrets.api_token = answer["api_token"]
    host = answer["domain"]
    status, body = http.json(
        "POST",
        host,
        "/api/v1/partners",
        {
            "name": "ИП Секретов Пароль Паролевич",
            "legal_form": "ip",
            "inn": IP_INN,
            "tax_system": "usn_income",
            "vat": "none",
            "robokassa": {
                "merchant_login": f"{slug}-shop",
                "password1": secrets.password1,
                "password2": secrets.password2,
                "test_password1": secrets.test_password1,
                "test_password2": secrets.test_password2,
                "hash_algorithm": "md5",
                "test_mode": False,
                "fiscalization": False,
            },
        },
        token=secrets.api_token,
    )
    assert status == 201, body
    partner = json.loads(body)
    for value in secrets.all().values():
        assert value not in body  # the API answer does not carry them either
    status, body = http.json(
        "POST",
        host,
        "/api/v1/locations",
        {"name": "Квест «Тайник»", "partner_id": partner["id"]},
        token=secrets.api_token,
    )
    assert status == 201, body
    location_id = json.loads(body)["id"]
    # A wrong metrics token is refused (and not logged).
    status, _ = http.json("GET", platform, "/metrics", token="SENTINEL-wrong-metrics-token")
    assert status in {401, 404}

    network = Network.objects.get(slug=slug)
    with tenant_context(network):
        CrmConnection.objects.create(
            account_id=uuid.uuid4().int % 10**9,
            subdomain=slug,
            base_url=f"https://{slug}.amocrm.ru",
            access_token=secrets.access_token,
            refresh_token=secrets.refresh_token,
        )
        location = Location.objects.get(pk=location_id)
        account = location.partner.provider_account
        deal = deal_with_links(location)
        invoice = issued_invoice(deal, account)
    url = f"/callbacks/robokassa/{partner['id']}/result/"
    out_sum = format(Decimal(invoice.amount), "f")
    bad, _ = http.form(
        host, url, result_callback_form(out_sum=out_sum, inv_id=invoice.pk, password2="nope")
    )
    good, text = http.form(
        host,
        url,
        result_callback_form(out_sum=out_sum, inv_id=invoice.pk, password2=secrets.password2),
    )
    assert (bad, good, text) == (400, 200, f"OK{invoice.pk}")
    return network


class Capture(logging.Handler):
    """Every record, formatted as the platform writes it (JSON, context, scrub)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(ContextFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def capture_everything() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    root_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    connection.force_debug_cursor = True  # SQL and its parameters are logged too
    try:
        yield handler
    finally:
        connection.force_debug_cursor = False
        root.removeHandler(handler)
        root.setLevel(root_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def assert_no_secret(text: str, secrets: Secrets, where: str) -> None:
    leaked = {name for name, value in secrets.all().items() if value in text}
    assert not leaked, f"{where} contains {sorted(leaked)}"


@pytest.fixture
def cleanup_networks(django_db_blocker):
    slugs: list[str] = []
    yield slugs
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        for network in Network.objects.filter(slug__in=slugs):
            network_drop(network)


def test_in_process_logs_have_context_and_no_secret(
    django_db_setup, django_db_blocker, cleanup_networks, settings, monkeypatch
):
    settings.METRICS_TOKEN = METRICS_TOKEN
    # The callback is applied below, in this process, so that its lines are captured: its Celery
    # message is not sent, or a real worker of the session could apply it first.
    monkeypatch.setattr(callbacks, "callback_handoff", lambda **handoff: None)
    secrets = Secrets()
    slug = f"leak{uuid.uuid4().hex[:8]}"
    cleanup_networks.append(slug)
    with django_db_blocker.unblock(), capture_everything() as captured:
        network = run_flows(django_http(), secrets, slug)
        with tenant_context(network):
            event = CallbackEvent.objects.get(accepted=True)
            task = callback_apply_task.apply(args=[str(event.pk)])
            assert task.successful(), task.result
            assert CallbackEvent.objects.get(pk=event.pk).status == "applied"

    text = "\n".join(captured.lines)
    assert len(captured.lines) > 50  # SQL included: something was really captured
    assert_no_secret(text, secrets, "the captured logs")
    records = [json.loads(line) for line in captured.lines]
    # Request lines carry a request id and the network's slug; the task's lines its task id.
    callback_lines = [r for r in records if r["message"].startswith("callback refused")]
    assert callback_lines and all(
        r["network"] == slug and r["request_id"] != "-" for r in callback_lines
    )
    payment_lines = [r for r in records if r["message"].startswith("payment recorded")]
    assert payment_lines and payment_lines[0]["request_id"] == task.id
    assert payment_lines[0]["network"] == slug


def test_a_real_gunicorn_logs_no_secret(
    django_db_setup, django_db_blocker, cleanup_networks, tmp_path
):
    """The same HTTP flows against `entrypoint.sh web` on the test database, LOG_LEVEL=DEBUG."""
    secrets = Secrets()
    slug = f"leak{uuid.uuid4().hex[:8]}"
    cleanup_networks.append(slug)
    port = free_port()
    db = settings.DATABASES["default"]
    env = role_env(
        database=db["NAME"],
        venv=None,
        DJANGO_SETTINGS_MODULE="franchise_platform.settings.test",
        TEST_REDIS_URL=SCRATCH_REDIS_URL,
        PLATFORM_DOMAIN=settings.PLATFORM_DOMAIN,
        PLATFORM_BASE_URL=f"http://{settings.PLATFORM_DOMAIN}:{port}",
        PLATFORM_ENCRYPTION_KEYS=",".join(settings.PLATFORM_ENCRYPTION_KEYS),
        AMOCRM_CLIENT_SECRET=settings.AMOCRM_CLIENT_SECRET,
        METRICS_TOKEN=METRICS_TOKEN,
        LOG_LEVEL="DEBUG",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
    )
    base = f"http://127.0.0.1:{port}"
    with (
        django_db_blocker.unblock(),
        scratch_broker(),
        running("web-secrets", [str(ROOT / "scripts" / "entrypoint.sh"), "web"], env) as web,
    ):
        web.wait_for(
            lambda: (
                httpx.get(f"{base}/healthz", headers={"Host": settings.PLATFORM_DOMAIN}).status_code
                == 200
            ),
            what="GET /healthz 200",
        )
        run_flows(server_http(base), secrets, slug)
    log = web.log()
    assert "callback refused" in log and "gunicorn.access" in log
    assert_no_secret(log, secrets, "gunicorn's output")
