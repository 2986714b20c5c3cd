"""Shared test base: two networks with personas (owner and viewer of A, owner of B), clients bound to
a network's host, a real Celery worker, and a switch into a network's schema.

The networks are created once per session and committed (a real worker and a real server can see
them); each test using the `db` fixture runs in a transaction that is rolled back, so what a test
writes inside a network disappears with it. Tests that need committed data of their own take
`fresh_network`, which is created for the test and dropped after it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import Iterator

import pytest
import pytest_django.fixtures
from django.core.management import call_command
from django.db import connection

from tests.personas import Persona, PersonaNetwork, make_persona_network, network_drop

# Playwright's sync API keeps an asyncio loop running in the main thread while a browser is open
# (the widget tests share one for the session). Django then refuses plain database calls from that
# thread, although nothing here is asynchronous: the suite's own calls are safe to allow.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# pytest-django creates the test database only when some collected test is marked django_db or
# asks for `db`. Tests here also reach the database through committed fixtures (a real worker and
# a real server must see the data), so the test database is always set up: a run of only such
# tests must never touch the development database.
_databases_for_setup = pytest_django.fixtures._get_databases_for_setup


def _always_default(items):
    aliases, serialized = _databases_for_setup(items)
    return {*aliases, "default"}, serialized


pytest_django.fixtures._get_databases_for_setup = _always_default


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    assert connection.settings_dict["NAME"].startswith("test_"), (
        "refusing to run on a non-test database"
    )
    with django_db_blocker.unblock():
        call_command("platform_setup", verbosity=0)
    yield
    # Servers and workers the session started are gone by now; a straggling connection (a prefork
    # child still exiting) must not keep the test database from being dropped.
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session")
def net_a(django_db_setup, django_db_blocker) -> PersonaNetwork:
    with django_db_blocker.unblock():
        return make_persona_network("alpha", "Сеть «Альфа»")


@pytest.fixture(scope="session")
def net_b(django_db_setup, django_db_blocker) -> PersonaNetwork:
    with django_db_blocker.unblock():
        return make_persona_network("bravo", "Сеть «Браво»")


_counter = itertools.count()


@pytest.fixture
def fresh_network(django_db_setup, django_db_blocker) -> Iterator[PersonaNetwork]:
    """A network of its own, committed, dropped after the test."""
    slug = f"t{uuid.uuid4().hex[:8]}{next(_counter)}"
    with django_db_blocker.unblock():
        net = make_persona_network(slug, f"Тестовая сеть {slug}")
    yield net
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        network_drop(net.network)


@pytest.fixture(autouse=True)
def _back_to_public() -> Iterator[None]:
    yield
    # A test may leave the connection in a network's schema; the next one starts on public.
    with contextlib.suppress(Exception):
        connection.set_schema_to_public()


@pytest.fixture
def owner_a(net_a) -> Persona:
    return net_a.owner


@pytest.fixture
def viewer_a(net_a) -> Persona:
    return net_a.viewer


@pytest.fixture
def owner_b(net_b) -> Persona:
    return net_b.owner


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SKIP_BROWSER_TESTS") == "1":
        skip = pytest.mark.skip(reason="SKIP_BROWSER_TESTS=1")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def robokassa_server():
    """The fake Robokassa for the whole session; it reaches network hosts over loopback."""
    from tests.fakes.loopback import loopback_client
    from tests.fakes.robokassa import FakeRobokassa

    with FakeRobokassa() as fake:
        fake._http = loopback_client(timeout=30)
        yield fake


@pytest.fixture(scope="session")
def amo_server():
    from django.conf import settings

    from tests.fakes.amocrm import FakeAmoCrm

    with FakeAmoCrm(
        client_id=settings.AMOCRM_CLIENT_ID,
        client_secret=settings.AMOCRM_CLIENT_SECRET,
        redirect_uri=settings.PLATFORM_BASE_URL + "/integrations/amocrm/oauth/callback/",
    ) as server:
        yield server


@pytest.fixture(scope="session")
def live_port() -> int:
    from tests.live import free_port

    return free_port()


@pytest.fixture(scope="session")
def live_amo(live_port):
    """The fake amoCRM of the live stack: its integration's Redirect URI is the live server's."""
    from django.conf import settings

    from tests.fakes.amocrm import FakeAmoCrm

    with FakeAmoCrm(
        client_id=settings.AMOCRM_CLIENT_ID,
        client_secret=settings.AMOCRM_CLIENT_SECRET,
        redirect_uri=f"http://localhost:{live_port}/integrations/amocrm/oauth/callback/",
    ) as server:
        yield server


@pytest.fixture(scope="session")
def widget_origin_port() -> int:
    """Where the stand-in of amoCRM's page is served in browser tests (an allowed CORS origin)."""
    from tests.live import free_port

    return free_port()


@pytest.fixture(scope="session")
def yookassa_server():
    """The fake YooKassa for the whole session; its notifications reach network hosts over
    loopback (the server and the worker accept them from 127.0.0.1)."""
    from tests.fakes.loopback import loopback_client
    from tests.fakes.yookassa import FakeYooKassa

    with FakeYooKassa() as fake:
        fake.notify_client = loopback_client(timeout=30)
        yield fake


@pytest.fixture(scope="session")
def stack_env(
    django_db_setup, live_port, robokassa_server, live_amo, widget_origin_port, yookassa_server
):
    from tests.live import stack_env as build

    env = build(port=live_port, robokassa=robokassa_server, amo=live_amo)
    env["WIDGET_EXTRA_ORIGINS"] = f"http://127.0.0.1:{widget_origin_port}"
    env["YOOKASSA_API_BASE_URL"] = yookassa_server.api_base_url
    env["YOOKASSA_OAUTH_BASE_URL"] = yookassa_server.oauth_base_url
    env["YOOKASSA_NOTIFICATION_NETWORKS"] = "127.0.0.1/32"
    env["YOOKASSA_IDEMPOTENCE_NAMESPACE"] = f"e2e{uuid.uuid4().hex[:8]}"
    return env


@pytest.fixture(scope="session")
def celery_worker(stack_env):
    """A real worker process (prefork, 2 children) on the test database and test Redis, with the
    fakes' addresses; session-wide, restartable by tests that kill it."""
    import redis
    from django.conf import settings

    from tests.worker import WorkerProcess

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    worker = WorkerProcess(env=stack_env).start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def app_server(stack_env, live_port):
    """gunicorn serving the app on the test database (the same environment as the worker)."""
    from tests.live import start_server

    server = start_server(stack_env, live_port)
    yield server
    server.stop()


@pytest.fixture
def in_network(net_a):
    """Run the test body inside network A's schema (rolled back with the test)."""
    from django_tenants.utils import tenant_context

    with tenant_context(net_a.network):
        yield net_a


@pytest.fixture
def live_network(app_server, celery_worker, live_amo, robokassa_server, django_db_blocker):
    """A network signed up through the live API, with the live fakes; dropped after the test."""
    from tenants.models import CrmAccountBinding, Network
    from tests.live import PASSWORD, LiveNetwork

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
