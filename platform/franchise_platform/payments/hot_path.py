"""The two statements of a callback's answer, with their SQL built once per process.

A provider's notification is the platform's busiest request, and most of what separates its cost
from a bare tenant-routed read was the ORM building SQL: compiling the invoice-with-its-shop query
took about 0.8 ms of CPU per callback on the benchmark machine, more than PostgreSQL spent running
it. Both statements are the same text for every network (table names are unqualified; the
connection's search_path picks the schema), so they are composed here once, from the models'
metadata, and rows are turned into model instances with the documented ``Model.from_db``.

Only public model API is used (``_meta.concrete_fields``, ``Field.column/attname``,
``from_db_value``, ``pre_save``, ``get_db_prep_save``, ``Model.from_db``); the equivalence with
the ORM's own query and insert is a test (tests/payments/test_hot_path.py), so a model change
that these would miss fails there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from django.db import connection, models

from franchise_platform.network.models import ProviderAccount

from .models import CallbackEvent, Invoice

_Converter = Callable[[Any, Any, Any], Any]


def _quoted(column: str | None) -> str:
    assert column is not None  # every concrete field and table has one
    return connection.ops.quote_name(column)


def _converters(fields: Sequence[models.Field[Any, Any]]) -> list[tuple[int, _Converter]]:
    """(position, from_db_value) of the fields whose values need converting (JSON, sealed...)."""
    return [
        (i, field.from_db_value)
        for i, field in enumerate(fields)
        if hasattr(field, "from_db_value")
    ]


class _Shape:
    """One model's columns in a SELECT: how to name them and how to build the instance."""

    def __init__(self, model: type[models.Model], alias: str) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.columns = ", ".join(f"{alias}.{_quoted(f.column)}" for f in self.fields)
        self.attnames = [f.attname for f in self.fields]
        self.converters = _converters(self.fields)

    def build(self, values: Sequence[Any]) -> models.Model:
        row = list(values)
        for i, convert in self.converters:
            row[i] = convert(row[i], None, connection)
        return self.model.from_db(connection.alias, self.attnames, row)


@cache
def _invoice_query() -> tuple[str, _Shape, _Shape]:
    invoice, account = _Shape(Invoice, "i"), _Shape(ProviderAccount, "a")
    inv_meta, acc_meta = Invoice._meta, ProviderAccount._meta
    fk = inv_meta.get_field("provider_account")
    # Identifiers from the models' metadata, quoted; the values go as parameters.
    sql = (
        f"SELECT {invoice.columns}, {account.columns}"  # noqa: S608
        f" FROM {_quoted(inv_meta.db_table)} i"
        f" INNER JOIN {_quoted(acc_meta.db_table)} a"
        f" ON i.{_quoted(fk.column)} = a.{_quoted(acc_meta.pk.column)}"
        f" WHERE i.{_quoted(inv_meta.pk.column)} = %s"
        f" AND a.{_quoted(acc_meta.get_field('partner').column)} = %s"
        " LIMIT 1"
    )
    return sql, invoice, account


def invoice_with_account(invoice_id: int, partner_id: str) -> Invoice | None:
    """``Invoice.objects.select_related("provider_account").filter(pk=invoice_id,
    provider_account__partner_id=partner_id).first()``, in one precomposed statement."""
    try:
        partner = uuid.UUID(partner_id)
    except ValueError:
        return None  # not an id any partner has (the URL's converter lets any text through)
    sql, invoice_shape, account_shape = _invoice_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [invoice_id, partner])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(invoice_shape.fields)
    invoice = invoice_shape.build(row[:split])
    account = account_shape.build(row[split:])
    invoice.provider_account = account  # type: ignore[attr-defined]
    return invoice  # type: ignore[return-value]


@cache
def _event_insert() -> tuple[str, list[models.Field[Any, Any]]]:
    fields = list(CallbackEvent._meta.concrete_fields)
    columns = ", ".join(_quoted(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    table = _quoted(CallbackEvent._meta.db_table)
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})", fields  # noqa: S608


def event_insert(event: CallbackEvent) -> None:
    """``event.save(force_insert=True)`` in one precomposed statement (no signals: the model has
    no receivers, which the equivalence test checks). Raises IntegrityError like save()."""
    sql, fields = _event_insert()
    values = [f.get_db_prep_save(f.pre_save(event, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
    event._state.adding = False
    event._state.db = connection.alias
