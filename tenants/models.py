"""Network (the tenant) and Domain, in the public schema."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.utils import schema_exists

from franchise_platform.security.fields import EncryptedField

from .citus import network_schema_build


class NetworkQuerySet(models.QuerySet["Network"]):
    def customers(self) -> NetworkQuerySet:
        """Real networks: never the public schema (the template schema has no row at all)."""
        return self.exclude(schema_name="public")


class Network(TenantMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Работает")
        SUSPENDED = "suspended", _("Приостановлена")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("название"), max_length=200)
    slug = models.SlugField(_("адрес"), max_length=40, unique=True)
    owner_email = models.EmailField(_("e-mail владельца"), blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # The CRM the network works in (a registry slug, tenants/crm_choice.py): the panel shows its
    # way to connect. Set at sign-up; changed by the owner while no account is connected, and by
    # a bind (a claim code or an install proves which CRM the account is in).
    crm = models.CharField(_("CRM"), max_length=32, default="amocrm")
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True

    objects = NetworkQuerySet.as_manager()

    class Meta:
        verbose_name = _("сеть")
        verbose_name_plural = _("сети")

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED

    def create_schema(
        self, check_if_exists: bool = False, sync_schema: bool = True, verbosity: int = 1
    ) -> None:
        """Replay the template snapshot (fast, see tenants/template.py), else django-tenants' clone."""

        # local: import cycle: tenants.template imports these models
        from .template import schema_create_from_template

        if check_if_exists and schema_exists(self.schema_name):
            return
        use_snapshot = (
            settings.TENANT_CREATION_FAKES_MIGRATIONS and settings.TENANT_SNAPSHOT_CREATION
        )
        # On Citus the schema is built on the coordinator and then distributed to one worker.
        with network_schema_build(self.schema_name):
            if sync_schema and use_snapshot and schema_create_from_template(self.schema_name):
                return
            super().create_schema(
                check_if_exists=check_if_exists, sync_schema=sync_schema, verbosity=verbosity
            )


class Domain(DomainMixin):
    class Meta:
        verbose_name = _("домен")
        verbose_name_plural = _("домены")


class CrmAccountBinding(models.Model):
    """Which network a CRM account (amoCRM account id) belongs to. Public schema: the widget and the
    CRM's webhooks arrive on the platform host and must find the network from the account alone.

    A marketplace install without a network waits here, unbound, with its tokens sealed under the
    public schema's data key, until an owner claims it (single-use code) or signs up from it.
    """

    class State(models.TextChoices):
        BOUND = "bound", _("Привязан")
        UNBOUND = "unbound", _("Ожидает привязки")
        REVOKED = "revoked", _("Отключён")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    crm = models.CharField(max_length=32, default="amocrm")
    # The CRM's account id as a string: amoCRM's integer in decimal, Bitrix24's `member_id`.
    account_id = models.CharField(max_length=64)
    subdomain = models.CharField(max_length=200, blank=True)
    base_url = models.CharField(max_length=300, blank=True)
    client_uuid = models.CharField(max_length=64, blank=True)
    network = models.ForeignKey(
        Network, null=True, blank=True, on_delete=models.CASCADE, related_name="crm_bindings"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.UNBOUND)
    webhook_secret = models.CharField(max_length=64, unique=True, null=True, blank=True)
    pending_access_token = EncryptedField(null=True, blank=True, allow_public=True)
    pending_refresh_token = EncryptedField(null=True, blank=True, allow_public=True)
    pending_expires_at = models.DateTimeField(null=True, blank=True)
    # The secret a CRM sends with every event of this install (Bitrix24's `application_token`,
    # saved at install, spec §6.3); events without it are dropped. Empty for amoCRM.
    application_token = EncryptedField(null=True, blank=True, allow_public=True)
    # The amoCRM user whose grant a marketplace install carries: only an account's administrators
    # can install (shared/specs/amocrm.md §1.1), so this user may hand out the claim code even
    # when the widget's token lacks the `is_admin` claim.
    installer_user_id = models.BigIntegerField(null=True, blank=True)
    claim_code_hash = models.CharField(max_length=64, blank=True)
    claim_code_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["crm", "account_id"], name="crm_account_unique"),
            # A network holds one account: the widget of another account must not reach its
            # deals (lead ids are per account). Replacing it revokes the old binding first.
            models.UniqueConstraint(
                fields=["network"],
                condition=models.Q(state="bound"),
                name="crm_one_bound_account_per_network",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.crm}:{self.account_id} → {self.network_id or '—'}"


class PendingInstall(models.Model):
    """An OAuth code that arrived without `state` (the marketplace's `from_widget` call): answered
    at once, exchanged in the background. The code is sealed, and deleted once used."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = EncryptedField(allow_public=True)
    referer = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"pending install from {self.referer}"


class TemplateSnapshot(models.Model):
    """The template schema as SQL (pg_dump), replayed to create a network; see tenants/template.py."""

    sql = models.TextField()
    migrations = models.PositiveIntegerField(help_text="django_migrations rows of the template")
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"template snapshot ({self.migrations} migrations)"
