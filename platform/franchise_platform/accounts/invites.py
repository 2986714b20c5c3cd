"""Inviting a person into a network: the owner or an admin names the e-mail, the role and, for a
partner user, the one partner it is confined to. The person gets a link to set a password (Django's
password-reset link, so one mechanism proves a mailbox for both), valid as long as reset links are.
"""

from __future__ import annotations

import logging
import uuid

from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from franchise_platform.security.audit import audit_record

from .models import Role, User

logger = logging.getLogger(__name__)

# The owner is made by sign-up; an invitation never makes another one.
INVITABLE_ROLES = (Role.ADMIN, Role.VIEWER, Role.PARTNER)


class InviteRefused(Exception):
    """The invitation cannot be made; `field` names the form field, the message is for people."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@transaction.atomic
def user_invite(
    *,
    email: str,
    role: str,
    partner_id: uuid.UUID | None,
    partner_name: str = "",
    full_name: str = "",
    actor: str,
    ip_address: str | None = None,
) -> User:
    """A new person of the network, without a password until it opens its link. The caller has
    checked that `partner_id` names a partner of this network (accounts knows no partners)."""
    email = User.objects.normalize_email(email).lower()
    if role not in INVITABLE_ROLES:
        raise InviteRefused("role", _("Эту роль нельзя выдать приглашением."))
    if role == Role.PARTNER and partner_id is None:
        raise InviteRefused("partner", _("Выберите партнёра, к которому относится человек."))
    if role != Role.PARTNER:
        partner_id = None
    if User.objects.filter(email__iexact=email).exists():
        raise InviteRefused("email", _("Человек с таким e-mail уже есть в сети."))
    user = User.objects.create_user(
        email=email, password=None, role=role, full_name=full_name, partner_id=partner_id
    )
    changes: dict[str, tuple[object, object]] = {"user": (None, email), "role": (None, role)}
    if partner_id is not None:
        changes["partner"] = (None, partner_name or str(partner_id))
    audit_record(
        actor=actor, action="user.invite", obj=user, changes=changes, ip_address=ip_address
    )
    return user


def invite_link(*, user: User, base_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("panel:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    return base_url.rstrip("/") + path


def invite_send(*, user: User, base_url: str, network_name: str, inviter: str) -> bool:
    """Mail the invitation; False, logged, when the mail server refused (the team page then offers
    to send it again). The link is never logged."""
    context = {
        "link": invite_link(user=user, base_url=base_url),
        "network_name": network_name,
        "inviter": inviter,
        "email": user.email,
    }
    with translation.override(translation.get_language() or "ru"):
        subject = render_to_string("public/email/invite_subject.txt", context).strip()
        body = render_to_string("public/email/invite_body.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:  # the person exists; the page says the letter did not go
        logger.exception("invitation e-mail not sent")
        return False
    return True
