"""Key rotation reaches every schema with data keys (the public one too), and the cache of unwrapped
keys never hands out a key of a schema that was dropped and created again under the same name."""

from __future__ import annotations

import copy
import io
import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from franchise_platform.network.models import Partner, ProviderAccount
from franchise_platform.security import envelope
from franchise_platform.security.envelope import forget_cached_keys
from franchise_platform.security.keys import generate_master_key
from franchise_platform.security.models import DataKey
from tenants.models import PendingInstall
from tenants.services import network_create
from tests.personas import PASSWORD, network_drop


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    forget_cached_keys()
    yield
    forget_cached_keys()


def _rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _raw_code(install: PendingInstall) -> str:
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute("SELECT code FROM tenants_pendinginstall WHERE id = %s", [install.pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_rotation_rewraps_public_keys_so_the_old_master_key_can_go(net_a, settings):
    old_keys = list(settings.PLATFORM_ENCRYPTION_KEYS)
    with schema_context("public"):
        install = PendingInstall.objects.create(code="oauth-code-1", referer="x.amocrm.ru")
        sealed_before = _raw_code(install)

    new_key = generate_master_key()
    settings.PLATFORM_ENCRYPTION_KEYS = [new_key, *old_keys]
    forget_cached_keys()
    output = _rotate("--new-data-key")

    settings.PLATFORM_ENCRYPTION_KEYS = [new_key]
    forget_cached_keys()
    with schema_context("public"):
        assert PendingInstall.objects.get(pk=install.pk).code == "oauth-code-1"
        assert _raw_code(install) != sealed_before  # re-sealed under the new public data key
        newest = DataKey.objects.order_by("-version").first()
        assert _raw_code(install).startswith(f"fpenc:1:{newest.version}:")
        assert set(DataKey.objects.values_list("master_key_id", flat=True)) == {
            newest.master_key_id
        }
    assert output.splitlines()[0].startswith("public:")


@pytest.mark.django_db
def test_rotating_one_network_leaves_public_secrets_alone(net_a):
    """A network's search_path reaches public tables too; its rotation must not re-seal them
    under the network's key (nor fail trying to open them with it)."""
    with schema_context("public"):
        install = PendingInstall.objects.create(code="oauth-code-2", referer="y.amocrm.ru")
        sealed_before = _raw_code(install)

    _rotate("--new-data-key", "--network", net_a.network.slug)

    assert _raw_code(install) == sealed_before
    forget_cached_keys()
    with schema_context("public"):
        assert PendingInstall.objects.get(pk=install.pk).code == "oauth-code-2"


@pytest.mark.django_db
def test_rotation_of_only_the_public_schema(net_a):
    with schema_context("public"):
        install = PendingInstall.objects.create(code="oauth-code-3", referer="z.amocrm.ru")
        version_before = DataKey.objects.get(retired_at__isnull=True).version

    output = _rotate("--new-data-key", "--network", "public")

    assert output.splitlines()[0].startswith("public:")
    assert net_a.network.slug not in output
    forget_cached_keys()
    with schema_context("public"):
        assert DataKey.objects.get(retired_at__isnull=True).version == version_before + 1
        assert _raw_code(install).startswith(f"fpenc:1:{version_before + 1}:")
        assert PendingInstall.objects.get(pk=install.pk).code == "oauth-code-3"


def _account_with(password: str) -> ProviderAccount:
    partner = Partner.objects.create(
        name="ИП Тест", legal_form="ip", inn="500100732259", tax_system="osn"
    )
    return ProviderAccount.objects.create(partner=partner, merchant_login="m", password1=password)


def _create(slug: str):
    return network_create(
        name="Сеть", slug=slug, owner_email=f"owner@{slug}.test", owner_password=PASSWORD
    ).network


def _cache_state() -> dict[str, object]:
    """What this process has unwrapped so far (the cache's module-level state)."""
    return {
        name: copy.copy(value)
        for name, value in vars(envelope).items()
        if name.startswith("_") and isinstance(value, dict)
    }


def _cache_restore(state: dict[str, object]) -> None:
    for name, value in state.items():
        current = getattr(envelope, name)
        current.clear()
        current.update(value)


def test_a_recreated_slug_never_uses_the_dropped_schemas_key(django_db_setup, django_db_blocker):
    """A worker that opened a secret of network X keeps X's key cached. X is deleted and its slug
    signed up again (same schema name, data key v1 again, new material): what that worker seals
    must open everywhere, and it must open what others sealed."""
    slug = f"rekey-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        first = _create(slug)
        with tenant_context(first):
            _ = ProviderAccount.objects.get(pk=_account_with("old-network").pk).password1
        worker_view = _cache_state()

        network_drop(first)
        second = _create(slug)
        try:
            with tenant_context(second):
                sealed_elsewhere = _account_with("sealed-by-the-web")

            _cache_restore(worker_view)  # the worker still holds the dropped schema's key
            with tenant_context(second):
                assert (
                    ProviderAccount.objects.get(pk=sealed_elsewhere.pk).password1
                    == "sealed-by-the-web"
                )
                sealed_by_worker = _account_with("sealed-by-the-worker")

            forget_cached_keys()  # any other process
            with tenant_context(second):
                assert (
                    ProviderAccount.objects.get(pk=sealed_by_worker.pk).password1
                    == "sealed-by-the-worker"
                )
        finally:
            connection.set_schema_to_public()
            network_drop(second)
