"""Schemathesis over the network API's OpenAPI (/api/v1/openapi.json), the platform API and the
widget API (with a valid amoCRM token on every call, so bodies reach the endpoints): with a fixed
seed and example budget, no generated request is a 5xx, every error has the contract's shape
{"detail", "code"}, and every status answered is one the OpenAPI documents."""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, seed, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from franchise_platform.api import network_api, public_api
from franchise_platform.crm_sync.widget_api import widget_api

pytestmark = pytest.mark.django_db

EXAMPLES = 30
SEED = 20261202
_app = get_wsgi_application()


def _schema(api, prefix: str = "/api/v1/") -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix=prefix))


network_schema = _schema(network_api)
public_schema = _schema(public_api)
widget_schema = _schema(widget_api, "/api/widget/v1/")


def _call(case, **kwargs):
    """The request in-process through the WSGI app, inside the test's transaction: the handler must
    not close the connection after it (Django's test client does the same around its requests)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        return case.call(app=_app, **kwargs)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _error_shape(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/json"), (response.status_code, response.text)
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"detail", "code"}, body
        assert isinstance(body["detail"], str) and re.fullmatch(r"[a-z0-9_]+", body["code"])


CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@network_schema.parametrize()
@HYPOTHESIS
@seed(SEED)
def test_network_api_answers_only_documented_4xx(case, owner_a):
    response = _call(
        case,
        base_url=f"http://{owner_a.host}",
        headers={"Authorization": f"Bearer {owner_a.api_token}"},
    )
    _error_shape(response)
    case.validate_response(response, checks=CHECKS)


@public_schema.parametrize()
@HYPOTHESIS
@seed(SEED)
def test_platform_api_answers_only_documented_4xx(case, django_db_setup):
    response = _call(case, base_url="http://localhost")
    _error_shape(response)
    case.validate_response(response, checks=CHECKS)


@widget_schema.parametrize()
@HYPOTHESIS
@seed(SEED)
def test_widget_api_answers_only_documented_4xx(case, connected, amo):
    _, account_id, _ = connected
    token = amo.make_widget_token(account_id, aud="http://localhost:8000")
    response = _call(case, base_url="http://localhost", headers={"X-Auth-Token": token})
    _error_shape(response)
    case.validate_response(response, checks=CHECKS)


def test_the_fuzzed_schema_is_the_one_served(owner_a):
    """The schema above is built in-process at collection time; it is /api/v1/openapi.json."""
    served = owner_a.api().get("/api/v1/openapi.json").json()

    assert served["paths"] == network_schema.raw_schema["paths"]
