"""`platform/` is a source root, never a package: the standard `platform` module stays intact, and
every entry point works from the repository root with no extra flags."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest
from django.core.signals import request_started
from django.db import connection

from tests.personas import platform_client
from tests.worker import worker_env

ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()


def test_platform_dir_has_no_init():
    assert not (ROOT / "platform" / "__init__.py").exists()


@pytest.mark.django_db
def test_platform_is_the_standard_module_inside_a_web_request():
    seen = {}

    def record(**kwargs):
        mod = sys.modules["platform"]
        seen["file"] = Path(mod.__file__).resolve()
        seen["system"] = mod.system()

    request_started.connect(record)
    try:
        assert platform_client().get("/healthz").status_code == 200
    finally:
        request_started.disconnect(record)

    assert seen["file"].parent == STDLIB
    assert seen["system"] == platform.system() != ""


def _clean_env() -> dict[str, str]:
    env = worker_env()
    env.pop("PYTHONPATH", None)
    return env


def test_manage_py_works_from_the_root_without_flags():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serving(cmd_for_port, env):
    """Start a server process and yield the /healthz answer once it listens."""
    port = _free_port()
    proc = subprocess.Popen(
        cmd_for_port(port), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                yield httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                return
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        proc.stdout.read().decode() if proc.poll() is not None else "timeout"
                    )
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(10)


BINDIR = Path(sys.executable).parent
SERVERS = {
    "gunicorn": lambda port: [
        str(BINDIR / "gunicorn"),
        "franchise_platform.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
    ],
    "runserver": lambda port: [
        sys.executable,
        "manage.py",
        "runserver",
        f"127.0.0.1:{port}",
        "--noreload",
    ],
}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_web_servers_start_from_the_root_without_flags(server, django_db_setup):
    with _serving(SERVERS[server], _clean_env()) as response:
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_prod_settings_refuse_to_start_without_secrets():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "PLATFORM_ENCRYPTION_KEYS", "AMOCRM_CLIENT_SECRET"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "franchise_platform.settings.prod"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    "missing",
    ["SECRET_KEY", "PLATFORM_ENCRYPTION_KEYS", "AMOCRM_CLIENT_ID", "AMOCRM_CLIENT_SECRET"],
)
def test_prod_settings_name_each_missing_secret(missing):
    env = {**_prod_env(), missing: ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert missing in result.stderr


def _prod_env() -> dict[str, str]:
    return {
        **_clean_env(),
        "DJANGO_SETTINGS_MODULE": "franchise_platform.settings.prod",
        "SECRET_KEY": "k" * 60 + "Xy9!",
        "AMOCRM_CLIENT_ID": "id",
        "AMOCRM_CLIENT_SECRET": "secret",
        "REDIS_URL": "redis://127.0.0.1:6379/13",
    }


def test_prod_check_deploy_is_clean():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_prod_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_connection_starts_on_public():
    assert connection.schema_name == "public"


def test_healthz_names_the_database_when_it_does_not_answer(django_db_setup):
    """A real server whose PostgreSQL is unreachable answers 503 naming the database, not a 500."""
    env = {**_clean_env(), "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing"}
    with _serving(SERVERS["gunicorn"], env) as response:
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "failing": ["database"]}


def test_the_wsgi_application_loads_its_views_before_the_first_request():
    """Importing the WSGI module (what each gunicorn worker does at boot) loads both URL
    configurations and the views they name: the first request does not pay for the imports."""
    probe = (
        "import sys; import franchise_platform.wsgi; "
        "print(sorted(m for m in ('franchise_platform.panel.urls', "
        "'franchise_platform.payments.views', 'franchise_platform.urls_public') "
        "if m in sys.modules))"
    )
    env = worker_env()
    env["PYTHONPATH"] = str(ROOT / "platform")
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == str(
        sorted(
            [
                "franchise_platform.panel.urls",
                "franchise_platform.payments.views",
                "franchise_platform.urls_public",
            ]
        )
    )
