"""Which CRM a network works in (issue 17 item 4): chosen at sign-up, changed in the panel while
no account is connected. The choices are the registry's CRM apps; the dummy CRM only where the
demo sandbox runs (it keeps its leads in process memory or a local file)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context, tenant_context

from crm_connectors.registry import APPS, card_frame, crm_app
from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.security.audit import audit_record

from .errors import NetworkConflict, NetworkValidationError
from .models import Network

DEFAULT_CRM = "amocrm"


def crm_choices() -> list[tuple[str, str]]:
    """(slug, title) of every CRM a network may choose, amoCRM first."""
    slugs = [slug for slug in APPS if slug != "dummy" or settings.DEMO_SANDBOX]
    return [(slug, crm_app(slug).title) for slug in slugs]


def crm_installs_itself(slug: object) -> bool:
    """True for a CRM that posts its installs to us (its app declares ``install``): its owners
    paste our install address into the CRM and bind the account by a claim code."""
    if not isinstance(slug, str) or slug not in APPS:
        return False
    return crm_app(slug).install is not None


def crm_has_card_frame(slug: str) -> bool:
    """True for a CRM whose deal card opens our page in a frame (a tab) instead of a widget."""
    try:
        card_frame(slug)
    except LookupError:
        return False
    return True


def crm_choice_validate(value: object) -> str:
    """An untrusted CRM slug → a registered one, or NetworkValidationError `unknown_crm`. Exact:
    a slug is an identifier, not text to be tidied."""
    slug = value if isinstance(value, str) else ""
    if slug not in {choice for choice, _title in crm_choices()}:
        raise NetworkValidationError(
            _("Такой CRM нет. Выберите одну из списка: %(choices)s.")
            % {"choices": ", ".join(title for _slug, title in crm_choices())},
            "unknown_crm",
        )
    return slug


def network_crm_connected(network: Network) -> bool:
    with tenant_context(network):
        return CrmConnection.objects.filter(status=ConnectionStatus.CONNECTED).exists()


def network_crm_set(
    *, network: Network, crm: str, actor: str, ip_address: str | None = None
) -> Network:
    """Switch the network's CRM. Refused (NetworkConflict `crm_connected`) while an account of
    any CRM is connected: one CRM account per network, and a switch must not strand it."""
    crm = crm_choice_validate(crm)
    with schema_context("public"), transaction.atomic():
        # The row lock a bind takes too (crm_sync.connect.network_bind): a switch and a bind
        # finishing at once cannot leave the network naming the CRM it is not connected to.
        locked = Network.objects.select_for_update().get(pk=network.pk)
        before = locked.crm
        if crm == before:
            return network
        if network_crm_connected(locked):
            raise NetworkConflict(
                _(
                    "Сначала отключите подключённую CRM: сменить CRM можно, пока ни одна не "
                    "подключена."
                ),
                "crm_connected",
            )
        Network.objects.filter(pk=network.pk).update(crm=crm)
    network.crm = crm
    with tenant_context(network):
        audit_record(
            actor=actor,
            action="network.crm",
            obj=network,
            changes={"crm": (before, crm)},
            ip_address=ip_address,
        )
    return network
