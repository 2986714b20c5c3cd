"""/panel/integrations/claim/: bind a CRM account installed without a network to this network
with the single-use code its app shows: amoCRM's widget, or the page of the Bitrix24 app after
its install (tenants/claims.py)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tenants.claims import account_claim, claim_attempt_allowed
from tenants.crm_choice import crm_has_card_frame
from tenants.errors import ClaimRefused

from ..access import actor, page, panel_view
from ..context import crm_title_of


class ClaimForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Код привязки"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "placeholder": "7K4-9QX",
                "class": "claim-code-input",
            }
        ),
    )


@panel_view(edit=True)
def claim(request: HttpRequest) -> HttpResponse:
    network = request.tenant  # type: ignore[attr-defined]
    form = ClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # A budget per network: a guessed code would hand over someone else's amoCRM account.
        if not claim_attempt_allowed(scope=f"network:{network.pk}"):
            form.add_error("code", _("Слишком много попыток. Попробуйте через час."))
        else:
            try:
                binding = account_claim(
                    network=network, code=form.cleaned_data["code"], **actor(request)
                )
            except ClaimRefused as exc:
                form.add_error("code", exc.detail)
            else:
                name = binding.subdomain or binding.account_id
                if crm_has_card_frame(binding.crm):
                    text = _(
                        "Портал %(crm)s «%(name)s» подключён к сети. Поля в сделках "
                        "создаются — через минуту вкладка в сделке начнёт формировать ссылки."
                    )
                else:
                    text = _(
                        "Аккаунт %(crm)s «%(name)s» подключён к сети. Поля в сделках создаются — "
                        "через минуту виджет начнёт формировать ссылки."
                    )
                messages.success(request, text % {"name": name, "crm": crm_title_of(binding.crm)})
                return redirect("panel:integrations")
    return page(request, "panel/claim.html", {"form": form})
