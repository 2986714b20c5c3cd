"""`{% summary_preference_form %}`: the weekly summary switch of the signed-in person."""

from __future__ import annotations

from typing import Any

from django import template

from ..summary import SUMMARY_ROLES, summary_preference_get

register = template.Library()


@register.inclusion_tag("panel/royalties/_summary_pref.html", takes_context=True)
def summary_preference_form(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    shown = bool(user.is_authenticated and user.role in SUMMARY_ROLES)
    return {
        "shown": shown,
        "enabled": shown and summary_preference_get(user_id=user.pk),
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }
