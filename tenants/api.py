"""POST /api/v1/signup on the platform host."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema, Status

from franchise_platform.api_errors import ApiError

from .errors import NetworkError
from .services import network_create

router = Router(tags=["signup"])


class SignupIn(Schema):
    network_name: str
    slug: str
    owner_email: str
    owner_password: str


class SignupOut(Schema):
    slug: str
    domain: str
    panel_url: str
    api_token: str


@router.post("/signup", response={201: SignupOut}, auth=None)
def signup(request: HttpRequest, payload: SignupIn) -> Status[SignupOut]:
    try:
        created = network_create(
            name=payload.network_name,
            slug=payload.slug,
            owner_email=payload.owner_email,
            owner_password=payload.owner_password,
        )
    except NetworkError as exc:
        raise ApiError(exc.status, exc.detail, exc.code) from exc
    return Status(
        201,
        SignupOut(
            slug=created.network.slug,
            domain=created.domain,
            panel_url=created.panel_url,
            api_token=created.api_token,
        ),
    )
