"""Panel pages: royalty rules per partner, monthly statements (approve, send, export), and the
weekly summary switch. They parse input and call the services and selectors."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from franchise_platform.accounts.models import User
from franchise_platform.network.models import Partner
from franchise_platform.panel.access import actor, can_edit, forbidden, page, panel_view
from franchise_platform.scoping import confine, scope_partner_id

from .errors import RoyaltyError
from .exports import rule_words, statement_csv, statement_pdf, statement_xlsx
from .forms import RoyaltyRuleForm
from .models import RoyaltyRule, RoyaltyStatement, RuleKind, StatementStatus
from .periods import last_closed_month, period_parse
from .rules import tiers_text
from .selectors import (
    partners_for_royalties,
    royalty_rule_get,
    statement_get,
    statement_periods,
    statement_search,
)
from .services import (
    royalty_rule_save,
    rule_spec_of,
    statement_approve,
    statement_draft,
    statement_send,
    statements_draft_closed_month,
)
from .summary import summary_preference_set


def _statement(request: HttpRequest, statement_id: str) -> RoyaltyStatement:
    """The statement as the person may see it: for a partner user another partner's statement
    does not exist (the panel's 404, franchise_platform/scoping.py)."""
    try:
        uuid.UUID(statement_id)
    except ValueError:
        raise RoyaltyStatement.DoesNotExist from None
    statement = statement_get(statement_id=statement_id)
    if not confine(RoyaltyStatement.objects.filter(pk=statement.pk), user=request.user).exists():
        raise RoyaltyStatement.DoesNotExist
    return statement


def _partner(partner_id: str) -> Partner:
    try:
        uuid.UUID(partner_id)
    except ValueError:
        raise Partner.DoesNotExist from None
    return Partner.objects.get(pk=partner_id)


@panel_view(scoped=True)
def royalty_overview(request: HttpRequest) -> HttpResponse:
    """For a partner user: its own statements and its own rule only."""
    periods = statement_periods(partner_id=scope_partner_id(request.user))
    period = period_parse(request.GET.get("period", "")) or (periods[0] if periods else None)
    statements = list(confine(statement_search(period=period), user=request.user)) if period else []
    partners = []
    for partner in confine(partners_for_royalties(), user=request.user):
        rule: RoyaltyRule | None = getattr(partner, "royalty_rule", None)
        words = rule_words(_rule_snapshot(rule)) if rule else ""
        partners.append({"partner": partner, "rule": rule, "words": words})
    context = {
        "periods": periods,
        "period": period,
        "statements": statements,
        "total": sum((s.amount for s in statements), start=Decimal("0.00")),
        "partners": partners,
        "closed_month": last_closed_month(),
    }
    return page(request, "panel/royalties/overview.html", context)


def _rule_snapshot(rule: RoyaltyRule) -> dict[str, object]:
    return rule_spec_of(rule).snapshot()


@require_POST
@panel_view()
def royalty_draft(request: HttpRequest) -> HttpResponse:
    count = statements_draft_closed_month()
    messages.success(
        request,
        _("Ведомости за %(period)s сформированы: %(n)s.")
        % {"period": f"{last_closed_month():%m.%Y}", "n": count},
    )
    return redirect(f"{_overview_url()}?period={last_closed_month():%Y-%m}")


def _overview_url() -> str:
    return reverse("panel:royalties")


@panel_view(edit=True)
def royalty_rule_edit(request: HttpRequest, partner_id: str) -> HttpResponse:
    partner = _partner(partner_id)
    rule = royalty_rule_get(partner_id=partner.pk)
    initial: dict[str, object] = {"kind": RuleKind.PERCENT}
    if rule is not None:
        initial = {
            "kind": rule.kind,
            "percent": rule.percent,
            "fixed_amount": rule.fixed_amount,
            "minimum": rule.minimum,
            "tiers": tiers_text(rule.tiers),
            "email": rule.email,
        }
    form = RoyaltyRuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            royalty_rule_save(
                partner_id=partner.pk,
                spec=form.spec(),
                email=form.cleaned_data.get("email") or "",
                **actor(request),
            )
        except RoyaltyError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Правило роялти сохранено."))
            return redirect("panel:royalties")
    return page(
        request, "panel/royalties/rule_form.html", {"form": form, "partner": partner, "rule": rule}
    )


@panel_view(scoped=True)
def statement_detail(request: HttpRequest, statement_id: str) -> HttpResponse:
    statement = _statement(request, statement_id)
    user: User = request.user  # type: ignore[assignment]
    rule = royalty_rule_get(partner_id=statement.partner_id)
    context = {
        "statement": statement,
        "lines": list(statement.lines.all()),
        "rule_words": rule_words(statement.rule_snapshot),
        "is_draft": statement.status == StatementStatus.DRAFT,
        "may_approve": user.is_owner and can_edit(request),
        "email": rule.email if rule else "",
    }
    return page(request, "panel/royalties/statement.html", context)


@require_POST
@panel_view()
def statement_approve_view(request: HttpRequest, statement_id: str) -> HttpResponse:
    statement = _statement(request, statement_id)
    user: User = request.user  # type: ignore[assignment]
    if not user.is_owner:
        return forbidden(request, _("Утвердить ведомость может только владелец сети."))
    statement_approve(statement_id=statement.pk, **actor(request))
    messages.success(request, _("Ведомость утверждена: суммы больше не пересчитываются."))
    return redirect("panel:royalty_statement", statement_id=statement.pk)


@require_POST
@panel_view()
def statement_redraft(request: HttpRequest, statement_id: str) -> HttpResponse:
    statement = _statement(request, statement_id)
    if statement.status != StatementStatus.DRAFT:
        messages.error(request, _("Утверждённая ведомость не пересчитывается."))
    else:
        statement_draft(partner_id=statement.partner_id, period=statement.period)
        messages.success(request, _("Черновик пересчитан по текущим платежам."))
    return redirect("panel:royalty_statement", statement_id=statement.pk)


@require_POST
@panel_view()
def statement_send_view(request: HttpRequest, statement_id: str) -> HttpResponse:
    statement = _statement(request, statement_id)
    try:
        sent = statement_send(statement_id=statement.pk, **actor(request))
    except RoyaltyError as exc:
        messages.error(request, exc.message)
    else:
        if sent:
            messages.success(request, _("Ведомость отправлена партнёру."))
        else:
            messages.info(request, _("Ведомость уже была отправлена."))
    return redirect("panel:royalty_statement", statement_id=statement.pk)


EXPORTS = {
    "pdf": ("application/pdf", statement_pdf),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        statement_xlsx,
    ),
    "csv": ("text/csv; charset=utf-8", statement_csv),
}


@panel_view(scoped=True)
def statement_export(request: HttpRequest, statement_id: str, fmt: str) -> HttpResponse:
    statement = _statement(request, statement_id)
    if fmt not in EXPORTS:
        raise RoyaltyStatement.DoesNotExist
    content_type, build = EXPORTS[fmt]
    response = HttpResponse(build(statement), content_type=content_type)
    name = f"royalty-{statement.period:%Y-%m}-{str(statement.partner_id)[:8]}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_POST
@panel_view(personal=True)
def summary_preference(request: HttpRequest) -> HttpResponse:
    """Each person's own switch; every role may use it (it changes nothing of the network)."""
    enabled = request.POST.get("weekly_summary") == "on"
    summary_preference_set(user_id=request.user.pk, enabled=enabled)  # type: ignore[arg-type]
    messages.success(
        request,
        _("Еженедельная сводка включена.") if enabled else _("Еженедельная сводка выключена."),
    )
    return redirect("panel:settings")
