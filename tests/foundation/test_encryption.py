"""Envelope encryption: per-network data keys under master keys, values bound to their place."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Partner, ProviderAccount
from franchise_platform.security.envelope import forget_cached_keys, open_sealed, seal
from franchise_platform.security.errors import DecryptionError, MasterKeyError, NoNetworkError
from franchise_platform.security.keys import generate_master_key
from franchise_platform.security.models import DataKey

pytestmark = pytest.mark.django_db


def _account(**secrets) -> ProviderAccount:
    partner = Partner.objects.create(
        name="ИП Тест", legal_form="ip", inn="500100732259", tax_system="osn"
    )
    return ProviderAccount.objects.create(partner=partner, merchant_login="shop", **secrets)


def _raw_column(account: ProviderAccount, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM network_provideraccount WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    forget_cached_keys()
    yield
    forget_cached_keys()


@pytest.mark.parametrize("value", ["", 0, False, "пароль #1 с юникодом", "x" * 500])
def test_round_trip_keeps_value_and_type(net_a, value):
    with tenant_context(net_a.network):
        account = _account(password1=value)

        loaded = ProviderAccount.objects.get(pk=account.pk)

        assert loaded.password1 == value
        assert type(loaded.password1) is type(value)


def test_column_holds_ciphertext_not_the_password(net_a):
    with tenant_context(net_a.network):
        account = _account(password1="SuperSecret-Password-1")

        raw = _raw_column(account, "password1")

    assert raw.startswith("fpenc:1:")
    assert "SuperSecret" not in raw


def test_value_moved_to_another_row_does_not_open(net_a):
    with tenant_context(net_a.network):
        first = _account(password1="first-secret")
        second = _account(password1="second-secret")
        stolen = _raw_column(first, "password1")
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE network_provideraccount SET password1 = %s WHERE id = %s",
                [stolen, second.pk],
            )

        with pytest.raises(DecryptionError):
            _ = ProviderAccount.objects.get(pk=second.pk).password1


def test_value_moved_to_another_field_does_not_open(net_a):
    with tenant_context(net_a.network):
        account = _account(password1="one", password2="two")
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE network_provideraccount SET password2 = password1 WHERE id = %s",
                [account.pk],
            )

        with pytest.raises(DecryptionError):
            _ = ProviderAccount.objects.get(pk=account.pk).password2


def test_value_moved_to_another_network_does_not_open(net_a, net_b):
    with tenant_context(net_a.network):
        token = seal(b'"secret of A"', context="network.provideraccount|password1|same-id")
    with tenant_context(net_b.network), pytest.raises(DecryptionError):
        open_sealed(token, context="network.provideraccount|password1|same-id")
    with tenant_context(net_a.network):
        assert (
            open_sealed(token, context="network.provideraccount|password1|same-id")
            == b'"secret of A"'
        )


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "plaintext"])
def test_damaged_ciphertext_raises_never_returns_ciphertext(net_a, damage):
    with tenant_context(net_a.network):
        account = _account(password1="intact")
        raw = _raw_column(account, "password1")
        broken = {
            "truncate": raw[:-10],
            "flip": raw[:-3] + ("A" if raw[-3] != "A" else "B") + raw[-2:],
            "garbage": "fpenc:1:1:!!!not-base64!!!",
            "plaintext": "intact",
        }[damage]
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE network_provideraccount SET password1 = %s WHERE id = %s",
                [broken, account.pk],
            )

        with pytest.raises(DecryptionError):
            _ = ProviderAccount.objects.get(pk=account.pk).password1


def test_wrong_master_key_raises(net_a):
    with tenant_context(net_a.network):
        account = _account(password1="guarded")
        forget_cached_keys()
        with override_settings(PLATFORM_ENCRYPTION_KEYS=[generate_master_key()]):
            with pytest.raises(MasterKeyError):
                _ = ProviderAccount.objects.get(pk=account.pk).password1


def test_public_schema_refuses_to_seal():
    connection.set_schema_to_public()
    with pytest.raises(NoNetworkError):
        seal(b"x", context="anything")


def test_lookup_by_encrypted_field_is_refused(net_a):
    with tenant_context(net_a.network), pytest.raises(TypeError):
        list(ProviderAccount.objects.filter(password1="guess"))


def test_rotation_old_master_key_decrypts_until_rotation_finishes(net_a, settings):
    old_keys = list(settings.PLATFORM_ENCRYPTION_KEYS)
    new_key = generate_master_key()
    with tenant_context(net_a.network):
        account = _account(password1="before-rotation", test_password2="tp2")
        old_version = DataKey.objects.get(retired_at__isnull=True).version

    # Step 1: the new key goes first; the old one still decrypts everything.
    settings.PLATFORM_ENCRYPTION_KEYS = [new_key, *old_keys]
    forget_cached_keys()
    with tenant_context(net_a.network):
        assert ProviderAccount.objects.get(pk=account.pk).password1 == "before-rotation"

    # Step 2: rotate master and data keys.
    call_command(
        "rotate_encryption_keys",
        "--new-data-key",
        "--network",
        net_a.network.slug,
        stdout=open("/dev/null", "w"),
    )

    # Step 3: the old master key is withdrawn; everything still opens.
    settings.PLATFORM_ENCRYPTION_KEYS = [new_key]
    forget_cached_keys()
    with tenant_context(net_a.network):
        loaded = ProviderAccount.objects.get(pk=account.pk)
        assert loaded.password1 == "before-rotation"
        assert loaded.test_password2 == "tp2"
        assert f"fpenc:1:{old_version}:" not in _raw_column(account, "password1")
        assert (
            DataKey.objects.exclude(master_key_id=DataKey.objects.first().master_key_id).count()
            == 0
        )


def test_rotation_resumes_after_interruption(net_a, settings, monkeypatch):
    with tenant_context(net_a.network):
        accounts = [_account(password1=f"secret-{i}") for i in range(5)]

    from franchise_platform.security import rotation

    calls = {"n": 0}
    real_stale = rotation._stale

    def crash_after_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return real_stale(*args, **kwargs)

    monkeypatch.setattr(rotation, "_stale", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        call_command(
            "rotate_encryption_keys",
            "--new-data-key",
            "--network",
            net_a.network.slug,
            stdout=open("/dev/null", "w"),
        )
    monkeypatch.setattr(rotation, "_stale", real_stale)

    # Resume: no new data key, the remaining rows are re-sealed.
    call_command(
        "rotate_encryption_keys", "--network", net_a.network.slug, stdout=open("/dev/null", "w")
    )

    with tenant_context(net_a.network):
        active = DataKey.objects.get(retired_at__isnull=True).version
        for account in accounts:
            assert _raw_column(account, "password1").startswith(f"fpenc:1:{active}:")
            assert ProviderAccount.objects.get(pk=account.pk).password1 == account.password1
