"""Network API: connecting amoCRM (Bearer token, owners and admins)."""

from django.db import connection
from django.http import HttpRequest
from ninja import Router, Schema

from franchise_platform.accounts.api_auth import (
    NetworkTokenAuth,
    require_editor,
    require_not_suspended,
)
from franchise_platform.api_errors import ApiError

from .connect import ConnectError, connect_url

router = Router(auth=NetworkTokenAuth(), tags=["amoCRM"])


class ConnectOut(Schema):
    authorize_url: str


@router.post("/crm/amocrm/connect", response=ConnectOut)
def amocrm_connect(request: HttpRequest) -> dict[str, str]:
    """The consent URL; its state names this network and the token's user, who finishes the
    connect signed in to the panel (the Redirect URI sends the browser there)."""
    require_editor(request)
    require_not_suspended(request)
    try:
        url = connect_url(network=connection.tenant, user=request.auth)  # type: ignore[attr-defined]
    except ConnectError as exc:
        raise ApiError(403, exc.detail, exc.code) from exc
    return {"authorize_url": url}
