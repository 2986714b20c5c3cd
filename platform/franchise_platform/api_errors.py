"""One error shape for every API: {"detail": "<human message>", "code": "<machine_code>"}."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError


class ApiError(Exception):
    """Raised by endpoints (or mapped from service errors) to answer {"detail", "code"}."""

    def __init__(self, status: int, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code


def _field_path(loc: list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "payload", "query", "path")]
    return ".".join(parts) or "body"


def install_error_handlers(api: NinjaAPI) -> None:
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return api.create_response(
            request, {"detail": exc.detail, "code": exc.code}, status=exc.status
        )

    def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        messages = []
        for err in exc.errors:
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            messages.append(f"{_field_path(list(err.get('loc', [])))}: {msg}")
        return api.create_response(
            request,
            {"detail": "; ".join(messages) or "Invalid input.", "code": "validation_error"},
            status=422,
        )

    def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return api.create_response(
            request, {"detail": "Authentication required.", "code": "unauthorized"}, status=401
        )

    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return api.create_response(
            request, {"detail": "Not found.", "code": "not_found"}, status=404
        )

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return api.create_response(
            request, {"detail": str(exc), "code": f"http_{exc.status_code}"}, status=exc.status_code
        )

    api.add_exception_handler(ApiError, api_error)  # type: ignore[arg-type]  # ninja types the handler too widely
    api.add_exception_handler(NinjaValidationError, validation_error)  # type: ignore[arg-type]  # ninja types the handler too widely
    api.add_exception_handler(AuthenticationError, auth_error)  # type: ignore[arg-type]  # ninja types the handler too widely
    api.add_exception_handler(Http404, not_found)  # type: ignore[arg-type]  # ninja types the handler too widely
    api.add_exception_handler(HttpError, http_error)  # type: ignore[arg-type]  # ninja types the handler too widely
