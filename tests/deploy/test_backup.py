"""scripts/backup.sh: dump the whole database, restore it into a fresh one, and prove the restored
network still works: its Robokassa shop's Password #2 decrypts with the same master keys (and not
with another key), and a signed ResultURL callback is verified and accepted there."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from decimal import Decimal

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from tests.factories import shop
from tests.observability.flows import issued_invoice
from tests.payments.helpers import deal_with_links

from .support import ROOT, SCRATCH_REDIS_URL, database_url, query, scratch_database

BACKUP = str(ROOT / "scripts" / "backup.sh")
PASSWORD2 = "restore-me-Password2-9f3c"
OTHER_KEY = "b3RoZXItbWFzdGVyLWtleS0zMi1ieXRlcy1sb25nISE="

# Runs in a separate process on the restored database: Django's test client posts Robokassa's
# callback to the network host; the result is printed as JSON.
CHECK = textwrap.dedent(
    """
    import json, sys
    import django
    django.setup()
    from django.test import Client
    from django_tenants.utils import tenant_context
    from tenants.models import Network
    from franchise_platform.network.models import ProviderAccount
    from tests.fakes.robokassa import result_callback_form

    slug, partner_id, inv_id, out_sum, password2 = sys.argv[1:6]
    network = Network.objects.get(slug=slug)
    out = {}
    with tenant_context(network):
        account = ProviderAccount.objects.get(partner_id=partner_id)
        try:
            out["password2_matches"] = account.password2 == password2
        except Exception as exc:
            out["decrypt_error"] = type(exc).__name__
    client = Client(HTTP_HOST=network.domains.get(is_primary=True).domain, raise_request_exception=False)
    url = f"/callbacks/robokassa/{partner_id}/result/"
    bad = client.post(url, result_callback_form(out_sum=out_sum, inv_id=inv_id, password2="wrong"))
    good = client.post(url, result_callback_form(out_sum=out_sum, inv_id=inv_id, password2=password2))
    out["bad"] = [bad.status_code, bad.content.decode()[:100]]
    out["good"] = [good.status_code, good.content.decode()[:100]]
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture
def shop_with_invoice(fresh_network, django_db_blocker):
    """A committed network with a partner's shop (encrypted passwords), a deal with links and
    an issued invoice."""
    with django_db_blocker.unblock(), tenant_context(fresh_network.network):
        account = shop(password2=PASSWORD2)
        deal = deal_with_links(account.partner.locations.get())
        invoice = issued_invoice(deal, account)
        return fresh_network, account, invoice


def _run(args, env=None, timeout=120):
    result = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _env(database: str, keys: str) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "franchise_platform.settings.test",
        "DATABASE_URL": database_url(database),
        "PLATFORM_ENCRYPTION_KEYS": keys,
        "TEST_REDIS_URL": SCRATCH_REDIS_URL,  # the apply task it queues goes nowhere shared
    }


def _check(database: str, keys: str, network, account, invoice) -> dict:
    result = _run(
        [
            sys.executable,
            "-c",
            CHECK,
            network.slug,
            str(account.partner_id),
            str(invoice.pk),
            format(Decimal(invoice.amount), "f"),
            PASSWORD2,
        ],
        env=_env(database, keys),
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def test_dump_restore_and_the_restored_network_verifies_callbacks(shop_with_invoice, tmp_path):
    net, account, invoice = shop_with_invoice
    keys = ",".join(settings.PLATFORM_ENCRYPTION_KEYS)
    source = settings.DATABASES["default"]["NAME"]

    dump = _run([BACKUP, "dump", "--out", str(tmp_path)], env=_env(source, keys))
    dump_path = dump.stdout.strip().splitlines()[-1]
    manifest = json.loads(open(dump_path + ".manifest.json").read())
    assert {"slug": net.network.slug, "schema": net.network.schema_name} in manifest["networks"]
    assert {"public", "network_template", net.network.schema_name} <= set(manifest["schemas"])
    assert manifest["master_key_ids"]  # which keys a restore needs (fingerprints only)
    assert keys not in json.dumps(manifest)
    _run([BACKUP, "verify", dump_path])

    with scratch_database("fp_restore", create=False) as restored:
        _run([BACKUP, "restore", dump_path, "--database", restored], env=_env(source, keys))
        # Refuses to restore over an existing database.
        again = subprocess.run(
            [BACKUP, "restore", dump_path, "--database", restored],
            cwd=ROOT,
            env=_env(source, keys),
            capture_output=True,
            text=True,
            check=False,
        )
        assert again.returncode != 0 and "already exists" in again.stderr

        same_keys = _check(restored, keys, net.network, account, invoice)
        assert same_keys["password2_matches"] is True
        assert same_keys["bad"][0] == 400
        assert same_keys["good"] == [200, f"OK{invoice.pk}"]
        # The accepted callback was stored in the restored database, not in the source.
        schema = net.network.schema_name
        stored = f'SELECT count(*) FROM "{schema}".payments_callbackevent WHERE accepted'
        assert query(restored, stored) == [(1,)]
        assert query(source, stored) == [(0,)]

        # Another master key opens nothing: no password, no verified callback.
        other = _check(restored, OTHER_KEY, net.network, account, invoice)
        assert "password2_matches" not in other
        assert other["decrypt_error"] in {"MasterKeyError", "DecryptionError"}
        assert other["good"][0] != 200
