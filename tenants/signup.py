"""Sign-up as people (the landing's form) and integrators (POST /api/v1/signup) do it: the same
checks, the same per-address budget, then network_create (all or nothing), the owner's
verification e-mail, and, when the person came from the amoCRM widget or a Bitrix24 install with
a claim code, the account bound to the new network."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from franchise_platform.accounts.mail_limits import mail_request_refusal
from franchise_platform.accounts.models import User
from franchise_platform.accounts.verification import email_verification_send
from franchise_platform.request_context import client_ip_bucket

from .abuse import signup_attempt_allowed
from .claims import account_claim, claim_attempt_allowed, claim_binding_find
from .crm_choice import DEFAULT_CRM, crm_choice_validate
from .errors import ClaimRefused, SignupRateLimited
from .services import (
    NetworkCreated,
    network_base_url,
    network_create,
    network_input_validate,
)
from .slugs import slug_ensure_available

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignupResult:
    created: NetworkCreated
    owner: User


def claim_code_check(*, code: str, account_id: int | None) -> str:
    """The CRM of the account a valid, unspent code names (of `account_id`, if given); raise
    ClaimRefused otherwise."""
    binding = claim_binding_find(code=code, account_id=account_id)
    if binding is None:
        raise ClaimRefused(
            _(
                "Код привязки не подошёл или устарел. Возьмите новый код в карточке сделки "
                "amoCRM или на странице приложения в Битрикс24."
            ),
            "claim_code_invalid",
        )
    return binding.crm


def signup_crm_resolve(*, crm: str | None, claimed_crm: str | None) -> str:
    """The new network's CRM: the one asked for (checked against the registry), else the claim
    code's, else amoCRM. A code of another CRM's account than the one asked for is refused."""
    chosen = crm_choice_validate(crm) if crm is not None else None
    if chosen is not None and claimed_crm is not None and chosen != claimed_crm:
        raise ClaimRefused(
            _("Код привязки выдан для другой CRM: выберите ту, в которой его получили."),
            "crm_mismatch",
        )
    return chosen or claimed_crm or DEFAULT_CRM


def rate_limited_error() -> SignupRateLimited:
    return SignupRateLimited(
        _("Слишком много регистраций с вашего адреса. Попробуйте через час."), "rate_limited"
    )


def network_signup(
    *,
    name: str,
    slug: str,
    owner_email: str,
    owner_password: str,
    client_ip: str,
    base_url: str | None = None,
    claim_code: str = "",
    amocrm_account_id: int | None = None,
    crm: str | None = None,
) -> SignupResult:
    """Create a network for a newcomer. Raises NetworkValidationError (422, an unknown `crm`
    too), NetworkConflict (409), ClaimRefused (422, a bad claim code or one of another CRM) or
    SignupRateLimited (429); each leaves nothing behind. `crm` None: the claim code's, or amoCRM.
    `base_url` is the origin the person reached us on (their links must work from there)."""
    # Checked before the budget is counted (a typo costs nothing); network_create checks again,
    # as it must when called on its own: a handful of small queries, paid once per sign-up.
    network_input_validate(
        name=name, slug=slug, owner_email=owner_email, owner_password=owner_password
    )
    slug_ensure_available(slug)
    if crm is not None:
        crm_choice_validate(crm)
    claimed_crm: str | None = None
    if claim_code:
        # Each code tried costs the address one of its hourly attempts: no guessing by sign-up.
        if not claim_attempt_allowed(scope=f"ip:{client_ip_bucket(client_ip)}"):
            raise ClaimRefused(
                _("Слишком много попыток. Попробуйте через час."), "claim_rate_limited", 429
            )
        claimed_crm = claim_code_check(code=claim_code, account_id=amocrm_account_id)
    chosen_crm = signup_crm_resolve(crm=crm, claimed_crm=claimed_crm)
    if not signup_attempt_allowed(ip=client_ip):
        raise rate_limited_error()
    created = network_create(
        name=name,
        slug=slug,
        owner_email=owner_email,
        owner_password=owner_password,
        crm=chosen_crm,
    )
    network = created.network
    with tenant_context(network):
        owner = User.objects.get(email=created.owner_email)
        # Sign-ups naming somebody else's mailbox must not bomb it: past the recipient's budget
        # the network stands and the panel offers to send the e-mail later.
        if mail_request_refusal(recipient=owner.email, ip=None) is None:
            email_verification_send(
                user=owner,
                base_url=base_url or network_base_url(network),
                network_name=network.name,
            )
    if claim_code:
        try:
            account_claim(
                network=network, code=claim_code, actor=created.owner_email, ip_address=client_ip
            )
        except ClaimRefused as exc:
            # The code was spent between the check and now: the network stands, and its checklist
            # still shows amoCRM to connect (a new code from the widget, or OAuth).
            logger.warning("sign-up %s: claim not completed (%s)", network.slug, exc.code)
    return SignupResult(created, owner)
