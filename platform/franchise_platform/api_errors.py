"""One error shape for every API: {"detail": "<human message>", "code": "<machine_code>"}."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

# A validator that knows the machine code of its refusal raises PydanticCustomError with the type
# "code:<machine_code>" (inputs.py); the answer then carries that code.
CUSTOM_CODE_PREFIX = "code:"


class ApiError(Exception):
    """Raised by endpoints (or mapped from service errors) to answer {"detail", "code"}."""

    def __init__(self, status: int, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code


def _field_path(loc: list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "payload", "query", "path", "filters")]
    return ".".join(parts) or "body"


def _expected(ctx: dict[str, Any]) -> str:
    return str(ctx.get("expected", "")).replace(" or ", ", ")


# pydantic's messages are English; a person reading the answer gets these. A validator of ours
# raising ValueError or PydanticCustomError already speaks Russian and keeps its own words.
_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda ctx: _("обязательное поле"),
    "literal_error": lambda ctx: _("допустимые значения: %(values)s") % {"values": _expected(ctx)},
    "enum": lambda ctx: _("допустимые значения: %(values)s") % {"values": _expected(ctx)},
    "string_type": lambda ctx: _("ожидается строка"),
    "int_type": lambda ctx: _("ожидается целое число"),
    "int_parsing": lambda ctx: _("ожидается целое число"),
    "int_from_float": lambda ctx: _("ожидается целое число"),
    "int_parsing_size": lambda ctx: _("слишком большое число"),
    "float_type": lambda ctx: _("ожидается число"),
    "float_parsing": lambda ctx: _("ожидается число"),
    "decimal_type": lambda ctx: _("ожидается число"),
    "decimal_parsing": lambda ctx: _("ожидается число"),
    "finite_number": lambda ctx: _("ожидается конечное число"),
    "bool_type": lambda ctx: _("ожидается true или false"),
    "bool_parsing": lambda ctx: _("ожидается true или false"),
    "uuid_type": lambda ctx: _("ожидается UUID"),
    "uuid_parsing": lambda ctx: _("ожидается UUID"),
    "datetime_type": lambda ctx: _("ожидается время в формате ISO 8601"),
    "datetime_parsing": lambda ctx: _("ожидается время в формате ISO 8601"),
    "datetime_from_date_parsing": lambda ctx: _("ожидается время в формате ISO 8601"),
    "timezone_offset": lambda ctx: _("ожидается время в формате ISO 8601"),
    "greater_than": lambda ctx: _("должно быть больше %(n)s") % {"n": ctx.get("gt")},
    "greater_than_equal": lambda ctx: _("должно быть не меньше %(n)s") % {"n": ctx.get("ge")},
    "less_than": lambda ctx: _("должно быть меньше %(n)s") % {"n": ctx.get("lt")},
    "less_than_equal": lambda ctx: _("должно быть не больше %(n)s") % {"n": ctx.get("le")},
    "string_too_short": lambda ctx: _("не короче %(n)s символов") % {"n": ctx.get("min_length")},
    "string_too_long": lambda ctx: _("не длиннее %(n)s символов") % {"n": ctx.get("max_length")},
    "string_pattern_mismatch": lambda ctx: _("неверный формат"),
    "dict_type": lambda ctx: _("ожидается объект"),
    "model_type": lambda ctx: _("ожидается объект"),
    "model_attributes_type": lambda ctx: _("ожидается объект"),
    "list_type": lambda ctx: _("ожидается список"),
    "json_invalid": lambda ctx: _("тело запроса — не JSON"),
    "json_type": lambda ctx: _("тело запроса — не JSON"),
    "extra_forbidden": lambda ctx: _("неизвестное поле"),
}


def _message(err: dict[str, Any]) -> str:
    kind = str(err.get("type", ""))
    if kind in _MESSAGES:
        return _MESSAGES[kind](dict(err.get("ctx") or {}))
    if kind == "value_error" or kind.startswith(CUSTOM_CODE_PREFIX):
        return str(err.get("msg", "")).removeprefix("Value error, ")
    return _("неверное значение")


def _code(errors: list[dict[str, Any]]) -> str:
    """The machine code: a validator's own code (see inputs.py) when every error carries the same
    one, else the generic validation_error."""
    codes = {str(err.get("type", "")) for err in errors}
    if len(codes) == 1 and (only := codes.pop()).startswith(CUSTOM_CODE_PREFIX):
        return only.removeprefix(CUSTOM_CODE_PREFIX)
    return "validation_error"


def install_error_handlers(api: NinjaAPI) -> None:
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return api.create_response(
            request, {"detail": exc.detail, "code": exc.code}, status=exc.status
        )

    def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        messages = [
            f"{_field_path(list(err.get('loc', [])))}: {_message(err)}" for err in exc.errors
        ]
        return api.create_response(
            request,
            {"detail": "; ".join(messages) or _("Неверные данные."), "code": _code(exc.errors)},
            status=422,
        )

    def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return api.create_response(
            request, {"detail": _("Требуется авторизация."), "code": "unauthorized"}, status=401
        )

    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return api.create_response(
            request, {"detail": _("Не найдено."), "code": "not_found"}, status=404
        )

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        # ninja's own are English ("Cannot parse request body"); ours would be ApiError.
        detail = _HTTP_DETAILS.get(exc.status_code)
        return api.create_response(
            request,
            {"detail": detail() if detail else str(exc), "code": f"http_{exc.status_code}"},
            status=exc.status_code,
        )

    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return api.create_response(request, body_too_large(), status=413)

    def suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        return api.create_response(
            request, {"detail": _("Запрос не принят."), "code": "bad_request"}, status=400
        )

    api.add_exception_handler(ApiError, api_error)  # type: ignore[arg-type]  # ninja types the handler too widely
    api.add_exception_handler(NinjaValidationError, validation_error)  # type: ignore[arg-type]  # ninja types the handler too widely
    api.add_exception_handler(AuthenticationError, auth_error)  # type: ignore[arg-type]  # ninja types the handler too widely
    api.add_exception_handler(Http404, not_found)  # type: ignore[arg-type]  # ninja types the handler too widely
    api.add_exception_handler(HttpError, http_error)  # type: ignore[arg-type]  # ninja types the handler too widely
    api.add_exception_handler(RequestDataTooBig, too_big)  # type: ignore[arg-type]  # ninja types the handler too widely
    api.add_exception_handler(SuspiciousOperation, suspicious)  # type: ignore[arg-type]  # ninja types the handler too widely


_HTTP_DETAILS: dict[int, Callable[[], str]] = {
    400: lambda: _("Не удалось разобрать тело запроса: ожидается JSON."),
    403: lambda: _("Доступ запрещён."),
}


class ErrorBody(Schema):
    detail: str
    code: str


# What any operation can answer before or around its own logic: an unreadable body (400), no or a
# bad token (401), a viewer writing (403), an unknown id (404), a conflict (409), an oversized body
# (413), input that fails validation (422), too many attempts (429).
COMMON_ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 422, 429)


# For an operation whose success is not a 200: spell the errors out in its response map (it must
# then return Status(...) for its success).
ERROR_RESPONSES: dict[int, type[Schema]] = dict.fromkeys(COMMON_ERROR_STATUSES, ErrorBody)


def document_common_errors(api: NinjaAPI, *, extra: tuple[int, ...] = ()) -> None:
    """Declare the common error answers on every operation, so the OpenAPI lists every status
    the API can answer. An operation declaring one non-200 status only (its default status when it
    returns a bare body) is left as it is: more declarations would change that default. Call it
    once every operation is registered."""
    for bound in api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for operation in path_view.operations:
                models = operation.response_models
                if len(models) == 1 and next(iter(models)) != 200:
                    continue
                for status in (*COMMON_ERROR_STATUSES, *extra):
                    if status not in models:
                        models[status] = operation._create_response_model(ErrorBody)


def body_too_large() -> dict[str, str]:
    return {
        "detail": _("Запрос слишком большой: не больше %(kb)s КБ.")
        % {"kb": settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024},
        "code": "body_too_large",
    }
