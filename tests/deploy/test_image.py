"""deploy/Dockerfile built and run for real (scripts/image.sh: buildah and podman, vfs storage,
runc): the image's migrate role on an empty database of the test PostgreSQL, then its web and
worker roles on the test run's own database, where a signed Robokassa callback is acknowledged by
the web and applied by the worker.

Runs where buildah is installed (`make image` installs it: scripts/lib.sh ensure_image_tools).
The base and dependency layers are cached by buildah (--layers), so a run rebuilds only the
source layer. Containers are removed afterwards whatever happens; their logs go to
tests/artifacts/deploy/.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from django.conf import settings

from .support import (
    ARTIFACTS,
    ROOT,
    free_port,
    query,
    role_env,
    scratch_database,
)

IMAGE_SH = str(ROOT / "scripts" / "image.sh")
IMAGE = "localhost/franchise-platform:latest"  # what `make image` builds: one set of layers
TOOLS = ("buildah", "podman", "runc")

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in TOOLS),
    reason="buildah, podman and runc are not installed (`make image` installs them)",
)


def image_sh(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [IMAGE_SH, *args],
        cwd=ROOT,
        env={**os.environ, "IMAGE": IMAGE, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def image() -> str:
    """The image as `make image` builds it (only the source layer is rebuilt when cached)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    built = image_sh("build", timeout=1800)
    (ARTIFACTS / "image-build.log").write_text(built.stdout + built.stderr)
    assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
    return IMAGE


def run_role(role: str, env: dict[str, str], *options: str, timeout: float = 120):
    """`scripts/image.sh run ROLE`; values travel in the environment of podman (`-e NAME`), not
    on its command line."""
    names = [arg for key in env for arg in ("-e", key)]
    return image_sh("run", role, *options, *names, env=env, timeout=timeout)


class Container:
    """A container of the image, detached, removed on exit (its log kept as an artifact)."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.name = f"fp-test-{role}-{uuid.uuid4().hex[:8]}"

    def log(self) -> str:
        out = image_sh("podman", "logs", self.name)
        return out.stdout + out.stderr

    def running(self) -> bool:
        state = image_sh("podman", "inspect", "--format", "{{.State.Running}}", self.name)
        return state.stdout.strip() == "true"

    def remove(self) -> None:
        (ARTIFACTS / f"image-{self.role}.log").write_text(self.log())
        image_sh("podman", "rm", "--force", "--time", "5", self.name, timeout=60)


@contextlib.contextmanager
def container(role: str, env: dict[str, str]) -> Iterator[Container]:
    box = Container(role)
    try:
        # Started inside the try: a container created but not started is removed too.
        started = run_role(role, env, "-d", "--name", box.name)
        assert started.returncode == 0, started.stderr
        yield box
    finally:
        box.remove()


def wait_for(box: Container, check, *, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        if not box.running():
            raise AssertionError(f"{box.role} stopped before {what}:\n{box.log()[-3000:]}")
        time.sleep(0.3)
    raise AssertionError(f"{box.role}: no {what} within {timeout} s:\n{box.log()[-3000:]}")


def container_env(*, database: str, **extra: str) -> dict[str, str]:
    """role_env without the host's PATH and venv: the image has its own."""
    env = role_env(database=database, venv=None, **extra)
    for key in ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"):
        env.pop(key, None)
    return env


def test_image_runs_as_the_non_root_user_with_the_entrypoint(image):
    config = image_sh(
        "podman", "image", "inspect", "--format", "{{.Config.User}} {{.Config.Entrypoint}}", image
    )
    assert config.stdout.split(maxsplit=1) == ["10001:10001", "[/app/scripts/entrypoint.sh]\n"]


def test_migrate_role_migrates_an_empty_database(image, django_db_setup):
    with scratch_database("fp_image") as name:
        box = Container("migrate")
        try:
            migrate = run_role(
                "migrate", container_env(database=name), "--name", box.name, timeout=600
            )
        finally:
            box.remove()  # also when the run above timed out
        assert migrate.returncode == 0, (migrate.stdout + migrate.stderr)[-4000:]
        schemas = {row[0] for row in query(name, "SELECT nspname FROM pg_namespace")}
        assert {"public", "network_template"} <= schemas
        # The template snapshot is taken with the image's own pg_dump.
        assert query(name, "SELECT count(*) FROM tenants_templatesnapshot")[0][0] == 1


@pytest.fixture
def issued_invoice(fresh_network, django_db_blocker):
    """A shop, a deal and an issued prepayment invoice in a network of the test database,
    committed (the containers see it)."""
    from django_tenants.utils import tenant_context

    from franchise_platform.payments.models import Invoice, LinkKind
    from tests.factories import shop
    from tests.payments.helpers import active_link, deal_with_links, invoice_marker_shp, visit

    with django_db_blocker.unblock(), tenant_context(fresh_network.network):
        account = shop()
        deal = deal_with_links(account.partner.locations.get())
        visit(fresh_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
        invoice = Invoice.objects.get()
        marker = invoice_marker_shp(invoice.pk)
    return fresh_network, account, invoice, marker


@pytest.fixture
def suite_worker_paused(celery_worker):
    """The suite's own worker consumes the test run's queue too: it is stopped while the image's
    worker runs, so that the payment is applied by the image's worker and no other."""
    celery_worker.stop()
    try:
        yield
    finally:
        celery_worker.start()


def test_web_and_worker_acknowledge_and_apply_a_signed_callback(
    image, issued_invoice, suite_worker_paused, django_db_blocker
):
    from django_tenants.utils import tenant_context

    from franchise_platform.payments.models import Payment
    from tests.fakes.robokassa import result_callback_form

    net, account, invoice, marker = issued_invoice
    database = settings.DATABASES["default"]["NAME"]
    port = free_port()
    keys = ",".join(settings.PLATFORM_ENCRYPTION_KEYS)  # the shop's passwords are sealed with them
    # The test run's own database and Redis database (settings.test: one per test process).
    env = container_env(
        database=database,
        REDIS_URL=settings.REDIS_URL,
        PLATFORM_ENCRYPTION_KEYS=keys,
        PLATFORM_DOMAIN=settings.PLATFORM_DOMAIN,
        PLATFORM_BASE_URL=f"https://{settings.PLATFORM_DOMAIN}",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        WORKER_CONCURRENCY="1",
    )
    with container("web", env) as web, container("worker", env) as worker:
        base = f"http://127.0.0.1:{port}"
        wait_for(
            web,
            lambda: (
                httpx.get(f"{base}/healthz", headers={"Host": settings.PLATFORM_DOMAIN}).status_code
                == 200
            ),
            what="GET /healthz 200",
        )
        wait_for(worker, lambda: " ready." in worker.log(), what="the worker's ' ready.'")
        form = result_callback_form(
            out_sum=invoice.amount,
            inv_id=invoice.pk,
            password2=account.password2,
            hash_algorithm=account.hash_algorithm,
            shp=marker,
        )
        answer = httpx.post(
            f"{base}/callbacks/robokassa/{account.partner_id}/result/",
            data=form,
            # TLS ends at nginx / the ingress, which says so.
            headers={"Host": net.host, "X-Forwarded-Proto": "https"},
        )
        assert (answer.status_code, answer.text) == (200, f"OK{invoice.pk}")

        def applied() -> bool:
            with django_db_blocker.unblock(), tenant_context(net.network):
                return Payment.objects.filter(invoice_id=invoice.pk).exists()

        wait_for(worker, applied, what="the payment applied by the worker", timeout=60)
        assert re.search(r"Task payments\.callback_apply\[[-0-9a-f]+\] succeeded", worker.log())
