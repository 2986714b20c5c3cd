"""Refuse a request that carries a NUL character before anything reads it.

PostgreSQL cannot store U+0000 in text or jsonb, and psycopg2 refuses to send it: a `%00` in a
path, query string, cookie, form field or a `\\u0000` in a JSON string would otherwise end as a 500
wherever it first reaches a query (a session lookup, a slug, a callback's stored parameters). No
legitimate client sends one, so the answer is a plain 400: the error shape on the APIs, a short
Russian text elsewhere. Oversized bodies read here answer 413 in the same way, a malformed form
body 400, and a method an API path lacks 405 in the error shape (ninja writes plain text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _

from .api_errors import body_too_large

_NUL = "\x00"
_API_PREFIXES = ("/api/",)
# amoCRM's webhook must be answered 2xx whatever it sends (CONTRACT.md), and its parser keeps
# only the lead ids it can read from the form: its body is not checked here (its path still is).
_BODY_UNCHECKED_PREFIXES = ("/integrations/amocrm/webhook/",)


def _has_nul(values: Iterable[str]) -> bool:
    return any(_NUL in value for value in values)


def _body_has_nul(request: HttpRequest) -> bool:
    content_type = request.content_type or ""
    if request.path.startswith(_BODY_UNCHECKED_PREFIXES):
        return False
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return False
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # Form fields only: an uploaded file's bytes never reach a text column.
        return _has_nul(key for key in request.POST) or _has_nul(
            value for _key, values in request.POST.lists() for value in values
        )
    if content_type.endswith("json"):
        body = request.body
        # The escape is what JSON carries; a raw NUL makes the body unreadable JSON anyway.
        return b"\x00" in body or b"\\u0000" in body.lower()
    return False


def _answers_json(path: str) -> bool:
    # A CRM's calls (webhooks, events, installs) get the API's shape; the OAuth Redirect URI is a
    # page for a person.
    return path.startswith(_API_PREFIXES) or (
        path.startswith("/integrations/") and "/oauth/" not in path
    )


def _refusal(request: HttpRequest, status: int, body: dict[str, str]) -> HttpResponse:
    if _answers_json(request.path):
        return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    return HttpResponse(body["detail"], status=status, content_type="text/plain; charset=utf-8")


class InputGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            refused = (
                _NUL in request.path
                or _has_nul(request.GET.keys())
                or _has_nul(value for _key, values in request.GET.lists() for value in values)
                or _has_nul(request.COOKIES.values())
                or _body_has_nul(request)
            )
        except RequestDataTooBig:
            return _refusal(request, 413, body_too_large())
        except (SuspiciousOperation, BadRequest, MultiPartParserError):
            # Too many fields, a malformed multipart body...: Django would answer a bare 400 page.
            return _refusal(request, 400, {"detail": _("Запрос не принят."), "code": "bad_request"})
        if refused:
            return _refusal(
                request,
                400,
                {
                    "detail": _("Запрос содержит недопустимые символы."),
                    "code": "invalid_characters",
                },
            )
        response = self.get_response(request)
        if response.status_code == 405 and request.path.startswith(_API_PREFIXES):
            return _method_not_allowed(response)
        return response


def _method_not_allowed(response: HttpResponse) -> HttpResponse:
    """ninja answers a method the path lacks with plain text; the APIs answer in their shape."""
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    answer = JsonResponse(
        {"detail": _("Этот метод здесь не поддерживается."), "code": "method_not_allowed"},
        status=405,
        json_dumps_params={"ensure_ascii": False},
    )
    if response.has_header("Allow"):
        answer["Allow"] = response["Allow"]
    return answer
