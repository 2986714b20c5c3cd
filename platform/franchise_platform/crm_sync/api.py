"""Network API: connecting amoCRM (Bearer token, owners and admins)."""

from django.db import connection
from django.http import HttpRequest
from ninja import Router, Schema

from franchise_platform.accounts.api_auth import NetworkTokenAuth, require_editor

from .connect import connect_url

router = Router(auth=NetworkTokenAuth(), tags=["amoCRM"])


class ConnectOut(Schema):
    authorize_url: str


@router.post("/crm/amocrm/connect", response=ConnectOut)
def amocrm_connect(request: HttpRequest) -> dict[str, str]:
    require_editor(request)
    return {"authorize_url": connect_url(network=connection.tenant)}  # type: ignore[attr-defined]
