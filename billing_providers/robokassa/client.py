"""The one place that talks to Robokassa over the network (httpx).

Transport problems become ``ProviderUnavailable`` (retryable); answers we cannot use become
``ProviderResponseError``. Exceptions are raised ``from None`` so that the request URL, which
carries a signature, does not travel along in tracebacks or error reports.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import httpx

from billing_providers.errors import ProviderResponseError, ProviderUnavailable
from billing_providers.robokassa import consts
from billing_providers.robokassa.consts import (
    API_BASE_URL,
    FISCAL_BASE_URL,
    MOSCOW_TZ,
    OP_STATE_EXT_PATH,
    SECOND_RECEIPT_PATH,
    SECOND_RECEIPT_STATUS_PATH,
)

logger = logging.getLogger(__name__)

_MAX_BODY = 1_000_000
_DATETIME = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)


@dataclass(frozen=True)
class OpStateAnswer:
    """An OpStateExt answer (§6) as strings; ``state_*`` and ``info`` only when
    ``result_code == "0"``."""

    result_code: str
    result_description: str | None = None
    state_code: str | None = None
    state_date: datetime | None = None
    request_date: datetime | None = None
    out_sum: str | None = None
    inc_sum: str | None = None
    inc_curr_label: str | None = None
    payment_method: str | None = None
    op_key: str | None = None
    user_fields: Mapping[str, str] = field(default_factory=dict)


def parse_datetime(raw: str | None) -> datetime | None:
    """Robokassa's ISO 8601 stamps, which may carry 7 fractional digits (Python takes 6).
    A stamp without a zone is read as Moscow time (UNCERTAIN). None when unparsable."""
    if not raw:
        return None
    match = _DATETIME.fullmatch(raw.strip())
    if match is None:
        return None
    text = match["base"]
    if match["fraction"]:
        text += "." + match["fraction"][:6].ljust(6, "0")
    zone = match["zone"]
    if zone:
        text += "+00:00" if zone == "Z" else zone
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=MOSCOW_TZ)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element | None, *names: str) -> ET.Element | None:
    if element is None:
        return None
    for child in element:
        if _local(child.tag) in names:
            return child
    return None


def _text(element: ET.Element | None, *path: str) -> str | None:
    for name in path:
        element = _child(element, name)
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def parse_op_state(content: bytes) -> OpStateAnswer:
    """Parse an ``OperationStateResponse`` with or without the default namespace.

    Raises ProviderResponseError (retryable) for anything that is not such a document."""
    # A DOCTYPE is the only door to entity tricks; Robokassa never sends one.
    if b"<!DOCTYPE" in content.upper():
        raise ProviderResponseError("OpStateExt answer contains a DOCTYPE", code="bad_xml")
    try:
        root = ET.fromstring(content)  # noqa: S314 - DOCTYPE refused above
    except ET.ParseError:
        raise ProviderResponseError(
            "OpStateExt answer is not XML", code="bad_xml", permanent=False
        ) from None
    if _local(root.tag) != "OperationStateResponse":
        raise ProviderResponseError(
            f"Unexpected XML root {_local(root.tag)!r}", code="bad_xml", permanent=False
        )
    result_code = _text(root, "Result", "Code")
    if result_code is None:
        raise ProviderResponseError("OpStateExt answer has no Result/Code", code="bad_xml")
    user_fields: dict[str, str] = {}
    fields = _child(root, "UserField", "UserFields")  # both spellings reported (§6)
    for item in fields if fields is not None else ():
        name = _text(item, "Name")
        if name is not None:
            user_fields[name] = _text(item, "Value") or ""
    return OpStateAnswer(
        result_code=result_code,
        result_description=_text(root, "Result", "Description"),
        state_code=_text(root, "State", "Code"),
        state_date=parse_datetime(_text(root, "State", "StateDate")),
        request_date=parse_datetime(_text(root, "State", "RequestDate")),
        out_sum=_text(root, "Info", "OutSum"),
        inc_sum=_text(root, "Info", "IncSum"),
        inc_curr_label=_text(root, "Info", "IncCurrLabel"),
        payment_method=_text(root, "Info", "PaymentMethod", "Code"),
        op_key=_text(root, "Info", "OpKey"),
        user_fields=user_fields,
    )


_shared_lock = threading.Lock()
_shared: tuple[int, httpx.Client] | None = None


def _shared_http_client() -> httpx.Client:
    """One pooled client per process (building one costs an SSL context). Recreated after a
    fork so that worker processes never share sockets."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] != os.getpid():
            _shared = (os.getpid(), httpx.Client(follow_redirects=False))
        return _shared[1]


class RobokassaClient:
    """Thin HTTP wrapper. Pass ``http_client`` to control pooling or to mock the transport;
    otherwise a per-process pooled client is used. ``timeout`` applies to every request."""

    def __init__(
        self,
        *,
        api_base_url: str = API_BASE_URL,
        fiscal_base_url: str = FISCAL_BASE_URL,
        http_client: httpx.Client | None = None,
        timeout: float = 10.0,
        op_state_method: Literal["GET", "POST"] = "GET",
    ) -> None:
        self.api_base_url = api_base_url.rstrip("/")
        self.fiscal_base_url = fiscal_base_url.rstrip("/")
        self._http = http_client
        self._timeout = timeout
        self._op_state_method = op_state_method

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        http = self._http if self._http is not None else _shared_http_client()
        try:
            response = http.request(method, url, timeout=self._timeout, **kwargs)
        except httpx.TimeoutException:
            raise ProviderUnavailable("Robokassa did not answer in time", code="timeout") from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"Network error talking to Robokassa ({type(exc).__name__})", code="network_error"
            ) from None
        status = response.status_code
        if status >= 500 or status == 429:
            logger.warning("Robokassa answered HTTP %s to %s", status, response.url.path)
            raise ProviderUnavailable(f"Robokassa answered HTTP {status}", code="http_error")
        if status != 200:
            raise ProviderResponseError(f"Robokassa answered HTTP {status}", code="http_error")
        if len(response.content) > _MAX_BODY:
            raise ProviderResponseError("Robokassa's answer is too large", code="bad_response")
        return response

    def op_state_ext(self, *, login: str, invoice_id: int, signature: str) -> OpStateAnswer:
        """Call OpStateExt (§6) and parse the answer. Raises ProviderUnavailable or
        ProviderResponseError; result codes are left to the caller."""
        params = {"MerchantLogin": login, "InvoiceID": str(invoice_id), "Signature": signature}
        url = self.api_base_url + OP_STATE_EXT_PATH
        if self._op_state_method == "POST":
            response = self._request("POST", url, data=params)
        else:
            response = self._request("GET", url, params=params)
        return parse_op_state(response.content)

    def attach_second_receipt(self, body: str) -> Mapping[str, Any]:
        """POST a signed second-receipt body (§5.3); returns the decoded JSON answer.
        Raises ProviderUnavailable or ProviderResponseError."""
        return self._fiscal_call(SECOND_RECEIPT_PATH, body)

    def second_receipt_status(self, body: str) -> Mapping[str, Any]:
        """POST a signed Receipt/Status body (fiscal.md §2.3); returns the decoded JSON answer.
        Raises ProviderUnavailable or ProviderResponseError."""
        return self._fiscal_call(SECOND_RECEIPT_STATUS_PATH, body)

    def _fiscal_call(self, path: str, body: str) -> Mapping[str, Any]:
        response = self._request(
            "POST",
            self.fiscal_base_url + path,
            content=body.encode("ascii"),
            headers={"Content-Type": "application/json"},
        )
        try:
            answer = json.loads(response.content)
        except ValueError:
            raise ProviderResponseError(
                f"{path} answer is not JSON", code="bad_response", permanent=False
            ) from None
        if not isinstance(answer, dict):
            raise ProviderResponseError(f"{path} answer is not an object", code="bad_response")
        return answer


class RefundClient:
    """The Refund API's HTTP calls (§8), on its own host (services.robokassa.ru)."""

    def __init__(self, client: RobokassaClient, *, base_url: str) -> None:
        self._client = client
        self.base_url = base_url.rstrip("/")

    def _json(self, response: httpx.Response, what: str) -> Mapping[str, Any]:
        try:
            answer = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise ProviderResponseError(
                f"{what} answer is not JSON", code="bad_response", permanent=False
            ) from None
        if not isinstance(answer, dict):
            raise ProviderResponseError(f"{what} answer is not an object", code="bad_response")
        return answer

    def create(self, token: str) -> Mapping[str, Any]:
        """POST the JWT as a JSON string literal (the official module's wire format, fiscal §3).
        Returns the decoded answer; raises ProviderUnavailable or ProviderResponseError."""
        response = self._client._request(
            "POST",
            self.base_url + consts.REFUND_CREATE_PATH,
            content=json.dumps(token).encode("ascii"),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        return self._json(response, "Refund/Create")

    def state(self, request_id: str) -> Mapping[str, Any]:
        response = self._client._request(
            "GET",
            self.base_url + consts.REFUND_STATE_PATH,
            params={"id": request_id},
            headers={"Accept": "application/json"},
        )
        return self._json(response, "Refund/GetState")
