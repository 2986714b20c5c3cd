"""POST /api/v1/signup on the platform host."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema, Status

from franchise_platform.api_errors import ERROR_RESPONSES, ApiError

from .abuse import client_ip
from .errors import NetworkError
from .signup import network_signup

router = Router(tags=["signup"])


class SignupIn(Schema):
    network_name: str
    slug: str
    owner_email: str
    owner_password: str
    # Optional (an addition to the contract): the single-use code the amoCRM widget shows in an
    # account no network has claimed; with it the account is bound to the new network.
    claim_code: str = ""
    # Optional (an addition): the CRM the network works in, a registry slug ("amocrm",
    # "bitrix24"); omitted: the claim code's CRM, else "amocrm". Unknown: 422 `unknown_crm`.
    crm: str | None = None


class SignupOut(Schema):
    slug: str
    domain: str
    panel_url: str
    api_token: str


@router.post("/signup", response={201: SignupOut, **ERROR_RESPONSES}, auth=None)
def signup(request: HttpRequest, payload: SignupIn) -> Status[SignupOut]:
    try:
        result = network_signup(
            name=payload.network_name,
            slug=payload.slug,
            owner_email=payload.owner_email,
            owner_password=payload.owner_password,
            claim_code=payload.claim_code,
            crm=payload.crm,
            client_ip=client_ip(request),
        )
    except NetworkError as exc:
        raise ApiError(exc.status, exc.detail, exc.code) from exc
    created = result.created
    return Status(
        201,
        SignupOut(
            slug=created.network.slug,
            domain=created.domain,
            panel_url=created.panel_url,
            api_token=created.api_token,
        ),
    )
