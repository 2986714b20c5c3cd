"""A network's data as a ZIP of JSON and CSV files, without a single secret.

Every model of the network's own apps is written, one JSON and one CSV file each, from the network's
schema; the public rows that name it (the network, its domains, its amoCRM bindings) go to
`network.json`. What is left out on purpose, and listed in `manifest.json`:
- whole tables that are secrets or security plumbing: sessions, data keys, authenticator devices,
  login-attempt logs, and Django's permission tables;
- every sealed field (EncryptedField: shop passwords, CRM tokens), and every field whose name says
  it is a secret or a hash of one (password, token_hash, webhook_secret, claim_code_hash, key).
Payment-provider signatures inside kept fields (a stored notification's SignatureValue, the one in
an invoice's payment URL) are masked: they would let anyone guess a shop's passwords offline. The
CSV files neutralise cells a spreadsheet would run as formulas (lead titles come from the public).
Rows are streamed (`iterator()` over `values()`), so a network of any size exports in bounded memory
and sealed values are never even decrypted.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Field, Model
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from franchise_platform.security.fields import EncryptedField
from franchise_platform.security.redaction import signatures_masked
from franchise_platform.security.spreadsheets import SpreadsheetSafeWriter

from .models import CrmAccountBinding, Domain, Network

# App labels whose tables are not the network's business data (or are secrets through and through).
SKIPPED_APPS = frozenset({"contenttypes", "auth", "sessions", "otp_totp", "otp_static", "axes"})
# Failed sign-ins (hashed e-mails, client addresses) are the platform's defence, not network data.
SKIPPED_MODELS = frozenset({"security.datakey", "accounts.loginthrottle"})
_SECRET_WORDS = re.compile(r"password|secret", re.IGNORECASE)
_SECRET_NAMES = frozenset(
    {
        "key",
        "bin_key",
        "wrapped_key",
        "token_hash",
        "claim_code_hash",
        "session_key",
        "session_data",
    }
)
CHUNK = 2000


def field_is_secret(model_field: Field[Any, Any]) -> bool:
    return (
        isinstance(model_field, EncryptedField)
        or model_field.name in _SECRET_NAMES
        or bool(_SECRET_WORDS.search(model_field.name))
    )


@dataclass
class ExportSummary:
    rows: dict[str, int] = field(default_factory=dict)
    left_out_fields: dict[str, list[str]] = field(default_factory=dict)


def _tenant_models() -> Iterator[type[Model]]:
    labels = {app.split(".")[-1] for app in settings.TENANT_APPS}
    for config in apps.get_app_configs():
        if config.label not in labels or config.label in SKIPPED_APPS:
            continue
        for model in config.get_models():
            if model._meta.label_lower not in SKIPPED_MODELS:
                yield model


def _columns(model: type[Model]) -> tuple[list[str], list[str]]:
    """(exported attnames, left-out field names): concrete fields only, no many-to-many."""
    kept: list[str] = []
    dropped: list[str] = []
    for model_field in model._meta.concrete_fields:
        (dropped if field_is_secret(model_field) else kept).append(model_field.attname)
    return kept, dropped


def _json_cell(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    return str(_json_cell(value))


def _masked_rows(rows: Callable[[], Iterable[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for row in rows():
        yield {column: signatures_masked(value) for column, value in row.items()}


def _write_table(
    archive: zipfile.ZipFile,
    name: str,
    columns: list[str],
    rows: Callable[[], Iterable[dict[str, Any]]],
) -> int:
    """One table as name.json (a list of objects) and name.csv: two streamed passes, so memory
    stays flat whatever the table's size."""
    count = 0
    with archive.open(f"{name}.json", "w") as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8")
        out.write("[")
        for row in _masked_rows(rows):
            out.write(",\n" if count else "\n")
            out.write(json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False))
            count += 1
        out.write("\n]\n")
        out.flush()
        out.detach()
    with archive.open(f"{name}.csv", "w") as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = SpreadsheetSafeWriter(out)
        writer.writerow(columns)
        for row in _masked_rows(rows):
            writer.writerow([_csv_cell(row[c]) for c in columns])
        out.flush()
        out.detach()
    return count


def _public_rows(network: Network) -> dict[str, Any]:
    with schema_context("public"):
        return {
            "network": _json_cell(
                {
                    "uid": network.uid,
                    "name": network.name,
                    "slug": network.slug,
                    "schema_name": network.schema_name,
                    "owner_email": network.owner_email,
                    "status": network.status,
                    "created_at": network.created_at,
                }
            ),
            "domains": list(Domain.objects.filter(tenant=network).values("domain", "is_primary")),
            "crm_bindings": _json_cell(
                list(
                    CrmAccountBinding.objects.filter(network=network).values(
                        "crm", "account_id", "subdomain", "base_url", "state", "created_at"
                    )
                )
            ),
        }


def network_export_write(*, network: Network, out: IO[bytes]) -> ExportSummary:
    """Write the network's ZIP into `out` (a file opened for binary writing)."""
    summary = ExportSummary()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "network.json",
            json.dumps(_public_rows(network), cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        )
        with tenant_context(network):
            for model in _tenant_models():
                columns, dropped = _columns(model)
                name = model._meta.label_lower
                query = model._default_manager.order_by("pk").values(*columns)
                summary.rows[name] = _write_table(
                    archive, name, columns, partial(query.iterator, CHUNK)
                )
                if dropped:
                    summary.left_out_fields[name] = dropped
        manifest = {
            "network": network.slug,
            "exported_at": timezone.now(),
            "rows": summary.rows,
            "left_out": {
                "tables": sorted(SKIPPED_APPS) + sorted(SKIPPED_MODELS),
                "fields": summary.left_out_fields,
                "why": "secrets (passwords, tokens, keys, sessions) are never exported",
            },
        }
        archive.writestr(
            "manifest.json",
            json.dumps(manifest, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        )
    return summary
