"""The network's people: who has access with which role, and inviting someone (owners and admins).
A partner user is invited with the one partner it will see (franchise_platform/scoping.py)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from franchise_platform.accounts.invites import (
    INVITABLE_ROLES,
    InviteRefused,
    invite_send,
    user_invite,
)
from franchise_platform.accounts.models import Role, User
from franchise_platform.network.models import Partner

from ..access import actor, page, panel_view
from ..forms import InviteForm


def _base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


@panel_view(edit=True)
def team(request: HttpRequest) -> HttpResponse:
    partners = {str(pk): name for pk, name in Partner.objects.values_list("pk", "name")}
    roles = [(role.value, role.label) for role in INVITABLE_ROLES]
    form = InviteForm(request.POST or None, roles=roles, partners=list(partners.items()))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        partner_key = data["partner"] if data["role"] == Role.PARTNER else ""
        try:
            user = user_invite(
                email=data["email"],
                role=data["role"],
                partner_id=uuid.UUID(partner_key) if partner_key else None,
                partner_name=partners.get(partner_key, ""),
                full_name=data["full_name"],
                **actor(request),
            )
        except InviteRefused as exc:
            form.add_error(exc.field, str(exc))
        else:
            inviter: User = request.user  # type: ignore[assignment]
            sent = invite_send(
                user=user,
                base_url=_base_url(request),
                network_name=getattr(request.tenant, "name", ""),  # type: ignore[attr-defined]
                inviter=inviter.full_name or inviter.email,
            )
            if sent:
                messages.success(
                    request,
                    _("Приглашение отправлено на %(email)s.") % {"email": user.email},
                )
            else:
                messages.error(
                    request,
                    _(
                        "%(email)s добавлен, но письмо не ушло: пусть откроет «Забыли пароль?» "
                        "на странице входа."
                    )
                    % {"email": user.email},
                )
            return redirect("panel:team")
    people = User.objects.order_by("role", "email")
    rows = [(person, partners.get(str(person.partner_id), "")) for person in people]
    return page(request, "panel/team.html", {"form": form, "rows": rows})
