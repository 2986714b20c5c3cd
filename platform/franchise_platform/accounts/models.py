"""People and API tokens. In a network schema: the owner, admins, viewers and partner users (a
franchisee's own people, confined to one partner); in the public schema: platform operators
(is_staff). Sessions live per host, so a network's session never opens another."""

from __future__ import annotations

import hashlib
import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Владелец")
    ADMIN = "admin", _("Администратор")
    VIEWER = "viewer", _("Наблюдатель")
    # A franchisee's person: sees only the rows of one partner (franchise_platform/scoping.py).
    PARTNER = "partner", _("Партнёр")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("role", Role.OWNER)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(_("e-mail"), unique=True)
    full_name = models.CharField(_("имя"), max_length=200, blank=True)
    role = models.CharField(_("роль"), max_length=16, choices=Role.choices, default=Role.VIEWER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # The one partner a `partner` user is confined to. A plain id, not a foreign key: this table
    # also lives in the public schema (operators), where no partner table exists. The check
    # constraint below keeps role and link together, so a partner user is never network-wide.
    partner_id = models.UUIDField(_("партнёр"), null=True, blank=True, db_index=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []  # Django reads this class attribute; typed by django-stubs

    class Meta:
        verbose_name = _("пользователь")
        verbose_name_plural = _("пользователи")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(role="partner", partner_id__isnull=False)
                    | (~models.Q(role="partner") & models.Q(partner_id__isnull=True))
                ),
                name="user_partner_link_matches_role",
            )
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def can_edit(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMIN)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    @property
    def is_partner_user(self) -> bool:
        return self.role == Role.PARTNER


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A Bearer token for the network API. Only its SHA-256 is stored; the value is shown once."""

    name = models.CharField(_("название"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API-токен")
        verbose_name_plural = _("API-токены")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class LoginThrottle(models.Model):
    """Failed sign-ins, counted per (account, address) pair and per address alone (account ""),
    in the schema of the login (a network's, or public for operators). The account is a hash of the
    e-mail as typed, so an unknown e-mail is counted exactly like a known one."""

    account = models.CharField(max_length=64, blank=True)
    address = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "address"], name="login_throttle_key")
        ]
        indexes = [models.Index(fields=["updated_at"], name="login_throttle_age")]

    def __str__(self) -> str:
        return f"{self.account or '*'}@{self.address}: {self.failures}"
