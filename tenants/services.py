"""Creating networks. A network is a schema cloned from the template, an owner and an API token."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from franchise_platform.accounts.models import Role
from franchise_platform.accounts.services import api_token_create, user_create
from franchise_platform.security.envelope import data_key_create

from .errors import NetworkConflict, NetworkValidationError
from .models import Domain, Network
from .slugs import schema_name_for_slug, slug_ensure_available, slug_validate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NetworkCreated:
    network: Network
    domain: str
    owner_email: str
    api_token: str  # raw; shown to the caller once, stored only as a hash

    @property
    def panel_url(self) -> str:
        return network_base_url(self.network) + "/panel/"


def network_host(network: Network) -> str:
    return f"{network.slug}.{settings.PLATFORM_DOMAIN}"


def network_base_url(network: Network) -> str:
    port = f":{settings.PLATFORM_PORT}" if settings.PLATFORM_PORT else ""
    return f"{settings.PLATFORM_SCHEME}://{network_host(network)}{port}"


def network_name_validate(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise NetworkValidationError(_("Укажите название сети (до 200 символов)."), "invalid_name")
    return name


def owner_email_validate(email: str) -> str:
    try:
        validate_email(email or "")
    except ValidationError as exc:
        raise NetworkValidationError(_("Проверьте e-mail владельца."), "invalid_email") from exc
    return email.strip().lower()


def owner_password_validate(password: str) -> str:
    try:
        validate_password(password or "")
    except ValidationError as exc:
        raise NetworkValidationError(
            _("Пароль слишком простой: ") + " ".join(exc.messages), "weak_password"
        ) from exc
    return password


def network_input_validate(*, name: str, slug: str, owner_email: str, owner_password: str) -> str:
    """Check everything a person typed; return the normalised slug. Raises NetworkValidationError.
    The sign-up form calls the per-field checks above one by one to show every problem at once."""
    network_name_validate(name)
    slug = slug_validate(slug)
    owner_email_validate(owner_email)
    owner_password_validate(owner_password)
    return slug


def network_create(
    *, name: str, slug: str, owner_email: str, owner_password: str, crm: str = "amocrm"
) -> NetworkCreated:
    """Create a network with its schema, owner account and first API token, all or nothing.

    Raises NetworkValidationError (422) for bad input (a reserved or look-alike slug included) and
    NetworkConflict (409) for a taken slug. The schema is cloned from TENANT_BASE_SCHEMA inside the
    same transaction, so a failure at any step leaves no half-made schema behind.
    """
    slug = network_input_validate(
        name=name, slug=slug, owner_email=owner_email, owner_password=owner_password
    )
    slug = slug_ensure_available(slug)
    email = owner_email.strip().lower()
    try:
        with transaction.atomic():
            network = Network(
                schema_name=schema_name_for_slug(slug),
                name=name.strip(),
                slug=slug,
                owner_email=email,
                crm=crm,
            )
            network.save(verbosity=0)
            domain = Domain.objects.create(
                domain=network_host(network), tenant=network, is_primary=True
            )
            with tenant_context(network):
                data_key_create(schema=network.schema_name)
                owner = user_create(email=email, password=owner_password, role=Role.OWNER)
                raw_token = api_token_create(user=owner, name=_("Первый токен"))[1]
    except IntegrityError as exc:
        raise NetworkConflict(
            _("Адрес «%(slug)s» уже занят.") % {"slug": slug}, "slug_taken"
        ) from exc
    logger.info("network created: %s", slug)
    return NetworkCreated(
        network=network, domain=domain.domain, owner_email=email, api_token=raw_token
    )
