"""The dashboard, the network settings, API tokens and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from franchise_platform.accounts.models import ApiToken, User
from franchise_platform.accounts.selectors import api_tokens_visible_to
from franchise_platform.accounts.services import api_token_create, api_token_revoke
from franchise_platform.network import selectors, services
from franchise_platform.network.errors import InputRejected
from franchise_platform.network.forms import SettingsForm, show_problems
from franchise_platform.network.models import Partner
from franchise_platform.panel.context import crm_title_of
from franchise_platform.panel.onboarding import OnboardingProgress, onboarding_progress
from franchise_platform.scoping import is_confined

from ..access import actor, can_edit, page, panel_view
from ..audit_labels import entry_rows
from ..forms import ApiTokenForm
from ..selectors import audit_entries, overview_get
from .dashboard import home_summary
from .partner_home import partner_home

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

AUDIT_PAGE_SIZE = 50
NEW_TOKEN_KEY = "panel_new_api_token"


@dataclass(frozen=True)
class ChecklistRow:
    key: str
    done: bool
    title: StrOrPromise
    hint: StrOrPromise
    action: StrOrPromise
    url: str
    # Another way to do the step, shown as a small link under the hint.
    other_action: StrOrPromise = ""
    other_url: str = ""


def onboarding_checklist(progress: OnboardingProgress, crm: str = "amocrm") -> list[ChecklistRow]:
    """The first steps as the home page shows them: each links to where it is done."""
    first_partner = Partner.objects.order_by("created_at").values_list("pk", flat=True).first()
    shop_url = (
        reverse("panel:partner_detail", args=[first_partner])
        if first_partner
        else reverse("panel:partner_create")
    )
    rows: dict[str, tuple[StrOrPromise, StrOrPromise, StrOrPromise, str]] = {
        "partner_added": (
            gettext_lazy("Добавьте партнёра"),
            gettext_lazy("Юрлицо франчайзи и его магазин Robokassa."),
            gettext_lazy("Добавить партнёра"),
            reverse("panel:partner_create"),
        ),
        "shop_checked": (
            gettext_lazy("Проверьте магазин тестовым счётом"),
            gettext_lazy(
                "Вставьте три адреса в Robokassa и оплатите тестовый счёт — так видно, что всё связано."
            ),
            gettext_lazy("Проверить магазин"),
            shop_url,
        ),
        "locations_bound": (
            gettext_lazy("Привяжите локации"),
            gettext_lazy("Квесты или точки продаж: по ним сделка находит партнёра."),
            gettext_lazy("Добавить локацию"),
            reverse("panel:location_create"),
        ),
        "crm_connected": (
            gettext_lazy("Подключите amoCRM"),
            gettext_lazy(
                "Одна кнопка: в сделках появятся поля для ссылок, суммы и статуса оплаты."
            ),
            gettext_lazy("Открыть интеграции"),
            reverse("panel:integrations"),
        ),
        "links_generated": (
            gettext_lazy("Сформируйте первые ссылки"),
            gettext_lazy("В карточке сделки amoCRM нажмите «Сформировать ссылки» в виджете."),
            gettext_lazy("Сделки"),
            reverse("panel:deal_list"),
        ),
        "first_payment": (
            gettext_lazy("Получите первую оплату"),
            gettext_lazy("Клиент платит по ссылке — оплата отмечается в сделке сама."),
            gettext_lazy("Платежи"),
            reverse("panel:payment_list"),
        ),
    }
    other: dict[str, tuple[StrOrPromise, str]] = {
        # An account installed from the marketplace is claimed with the code its widget shows.
        "crm_connected": (gettext_lazy("Есть код из виджета amoCRM?"), reverse("panel:claim")),
    }
    if crm != "amocrm":
        # The network's own CRM: installed as an app on its portal and claimed by the code the
        # app's page shows; links are made in the deal's tab.
        named = {"crm": crm_title_of(crm)}
        rows["crm_connected"] = (
            _("Подключите %(crm)s") % named,
            _("Установите приложение в %(crm)s и привяжите портал по коду со страницы приложения.")
            % named,
            rows["crm_connected"][2],
            rows["crm_connected"][3],
        )
        rows["links_generated"] = (
            rows["links_generated"][0],
            _("Откройте сделку в %(crm)s, вкладка «Ссылки на оплату», и сформируйте ссылки.")
            % named,
            rows["links_generated"][2],
            rows["links_generated"][3],
        )
        other["crm_connected"] = (
            _("Есть код со страницы приложения %(crm)s?") % named,
            reverse("panel:claim"),
        )
    return [
        ChecklistRow(step.key, step.done, *rows[step.key], *other.get(step.key, ("", "")))
        for step in progress.steps
    ]


@panel_view(scoped=True)
def home(request: HttpRequest) -> HttpResponse:
    if is_confined(request.user):
        # A franchisee's own window: nothing of the network's setup or other partners' money.
        return partner_home(request)
    progress = onboarding_progress()
    context = {
        "onboarding": progress,
        "checklist": onboarding_checklist(
            progress, getattr(getattr(request, "tenant", None), "crm", "amocrm")
        ),
        "overview": overview_get(),
        "settings": selectors.network_settings_get(),
        "recent": entry_rows(audit_entries()[:5]),
        # The last 30 days of the dashboard, without its lists (panel/views/dashboard.py).
        **home_summary(),
    }
    return page(request, "panel/home.html", context)


@panel_view()
def settings_page(request: HttpRequest) -> HttpResponse:
    current = selectors.network_settings_get()
    initial = {
        "prepayment_mode": current.prepayment_mode,
        "prepayment_value": current.prepayment_value,
        "invoice_ttl_hours": current.invoice_ttl_hours,
        "item_name": current.item_name,
    }
    form = SettingsForm(request.POST or None, initial=initial)
    if not can_edit(request):
        for field in form.fields.values():
            field.disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            services.network_settings_update(**actor(request), **form.cleaned_data)
        except InputRejected as exc:
            show_problems(form, exc)
        else:
            messages.success(request, _("Настройки сохранены."))
            return redirect("panel:settings")
    return page(request, "panel/settings.html", {"form": form, "current": current})


@panel_view(edit=True)
def tokens(request: HttpRequest) -> HttpResponse:
    """A new token's value is shown once: it waits in the session only for the redirect that follows
    the POST (so a reload cannot create a second token) and is removed by the page that shows it."""
    user: User = request.user  # type: ignore[assignment]
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _token, raw = api_token_create(user=user, name=form.cleaned_data["name"], **actor(request))
        request.session[NEW_TOKEN_KEY] = raw
        return redirect("panel:tokens")
    raw = request.session.pop(NEW_TOKEN_KEY, None)
    context = {"form": form, "tokens": api_tokens_visible_to(user=user), "raw": raw}
    return page(request, "panel/tokens.html", context)


@require_POST
@panel_view(edit=True)
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token: ApiToken = api_tokens_visible_to(user=request.user).get(pk=token_id)  # type: ignore[arg-type]
    api_token_revoke(token=token, **actor(request))
    messages.success(request, _("Токен «%(name)s» отозван.") % {"name": token.name})
    return redirect("panel:tokens")


@panel_view()
def audit(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(audit_entries(), AUDIT_PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    return page(
        request,
        "panel/audit.html",
        {"page_obj": page_obj, "rows": entry_rows(page_obj.object_list)},
    )
