"""Every HTML answer carries a strict Content-Security-Policy and the usual security headers, and
no page holds inline script or style that such a policy would have to allow (issue 12, item 15).

The browser suites (tests/panel, tests/onboarding, tests/widget) prove the same pages still work
under the policy with no violation reported; this file checks the headers and the markup of every
kind of page, quickly, through Django's test client."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client

from crm_connectors.amocrm.consts import OAUTH_CONSENT_URL
from tests.operator.conftest import make_operator, operator_login
from tests.personas import PersonaNetwork, platform_client

pytestmark = pytest.mark.django_db

UNSAFE = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'"}
# Sources that would let an attacker's script or style in as surely as 'unsafe-inline'.
TOO_WIDE = {"*", "data:", "blob:", "http:", "https:", "filesystem:"}
EXECUTABLE_TYPES = {"", "text/javascript", "application/javascript", "module"}

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.I | re.S)
INLINE_ATTRS = re.compile(r"<[a-z][^>]*?\s(style|on[a-z]+)\s*=", re.I)
STYLE_TAG = re.compile(r"<style\b", re.I)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def effective(directives: dict[str, list[str]], name: str) -> list[str]:
    """What the browser applies for `name` (script-src-elem falls back to script-src, then
    default-src)."""
    chain = {
        "script-src-elem": ["script-src-elem", "script-src", "default-src"],
        "script-src-attr": ["script-src-attr", "script-src", "default-src"],
        "style-src-elem": ["style-src-elem", "style-src", "default-src"],
        "style-src-attr": ["style-src-attr", "style-src", "default-src"],
    }[name]
    for directive in chain:
        if directive in directives:
            return directives[directive]
    return ["*"]  # nothing applies: anything goes


def assert_strict_page(response) -> None:
    path = response.request["PATH_INFO"]
    assert response["Content-Type"].startswith("text/html"), path
    directives = policy_of(response)
    for name in ("script-src-elem", "script-src-attr", "style-src-elem", "style-src-attr"):
        sources = set(effective(directives, name))
        assert not sources & UNSAFE, f"{name} allows {sources & UNSAFE} on {path}"
        assert not sources & TOO_WIDE, f"{name} allows {sources & TOO_WIDE} on {path}"
    assert directives.get("frame-ancestors") == ["'none'"], path
    assert directives.get("object-src") == ["'none'"], path
    assert directives.get("base-uri") == ["'none'"], path
    assert response.headers.get("X-Content-Type-Options") == "nosniff", path
    assert response.headers.get("Referrer-Policy") == "same-origin", path
    assert response.headers.get("X-Frame-Options") == "DENY", path
    assert response.headers.get("Cross-Origin-Opener-Policy") == "same-origin", path
    assert_no_inline_code(response.content.decode(), path)


def assert_no_inline_code(html: str, path: str) -> None:
    """Markup the policy would block: the page would lose its style or behaviour silently."""
    for attrs, body in SCRIPT_TAG.findall(html):
        kind = re.search(r"""\btype\s*=\s*["']?([^"'\s>]+)""", attrs, re.I)
        if kind and kind.group(1).lower() not in EXECUTABLE_TYPES:
            continue  # a data block (JSON settings), never executed
        assert "src=" in attrs.lower() and not body.strip(), f"inline <script> on {path}"
    assert not STYLE_TAG.search(html), f"inline <style> on {path}"
    found = INLINE_ATTRS.search(html)
    assert found is None, f"inline {found.group(1)}= attribute on {path}: {found.group(0)[:120]}"
    assert not JS_URL.search(html), f"javascript: URL on {path}"


# ---------------------------------------------------------------------------- the pages


def _get(client: Client, path: str, status: int = 200, **extra):
    response = client.get(path, **extra)
    assert response.status_code == status, (path, response.status_code)
    return response


PLATFORM_PAGES: list[tuple[str, int]] = [
    ("/", 200),  # the landing
    ("/signup/", 200),
    # The amoCRM widget's "connect a network" link.
    ("/signup/?amocrm_account=31337&subdomain=kvest&claim=ABCD-EFGH", 200),
    ("/signup/check-slug/?slug=-ab", 200),  # the htmx fragment of the live check
    ("/operator/login/", 200),
    ("/integrations/amocrm/oauth/callback/?code=x&state=forged", 400),  # the OAuth result page
    ("/no-such-page/", 404),
    ("/api/v1/docs", 200),  # django-ninja's Swagger UI
]


@pytest.mark.parametrize(("path", "status"), PLATFORM_PAGES)
def test_platform_host_pages_carry_a_strict_policy(path, status):
    assert_strict_page(_get(platform_client(), path, status))


def test_sign_up_refused_answer_carries_the_policy():
    response = platform_client().post("/signup/", {"network_name": "", "slug": "-"})
    assert response.status_code == 422
    assert_strict_page(response)


def test_operator_console_carries_the_policy():
    client = operator_login(make_operator(f"ops-{uuid.uuid4().hex[:6]}@platform.test"))
    for path in ("/operator/", "/operator/audit/"):
        assert_strict_page(_get(client, path))


def _network_pages(net: PersonaNetwork) -> list[tuple[Callable[[], Client], str, int]]:
    owner = net.owner.browser_client
    viewer = net.viewer.browser_client
    partner = uuid.uuid4()
    return [
        (net.anonymous, "/panel/login/", 200),
        (net.anonymous, "/panel/password-reset/", 200),
        (owner, "/panel/", 200),
        (owner, "/panel/partners/", 200),
        (owner, "/panel/partners/new/", 200),
        (owner, "/panel/partners/check-inn/?inn=123&legal_form=ip", 200),
        (owner, "/panel/locations/", 200),
        (owner, "/panel/deals/", 200),
        (owner, "/panel/payments/", 200),
        (owner, "/panel/integrations/", 200),
        (owner, "/panel/integrations/claim/", 200),
        (owner, "/panel/settings/", 200),
        (owner, "/panel/tokens/", 200),
        (owner, "/panel/audit/", 200),
        (owner, "/panel/security/", 200),
        (owner, f"/panel/partners/{partner}/", 404),  # the panel's own not-found page
        (viewer, "/panel/partners/new/", 403),  # the panel's forbidden page
        # The buyer's pages after Robokassa, and a link that does not exist.
        (net.anonymous, f"/callbacks/robokassa/{partner}/success/?InvId=1", 200),
        (net.anonymous, f"/callbacks/robokassa/{partner}/fail/?InvId=1", 200),
        (net.anonymous, "/pay/no-such-token", 404),
        (net.anonymous, "/api/v1/docs", 200),
    ]


def test_network_host_pages_carry_a_strict_policy(net_a):
    for client, path, status in _network_pages(net_a):
        assert_strict_page(_get(client(), path, status))


def test_csrf_failure_page_is_ours_and_carries_the_policy(net_a):
    """Django's built-in CSRF page has an inline <style>; ours (403_csrf.html) does not."""
    client = Client(HTTP_HOST=net_a.host, enforce_csrf_checks=True)
    response = client.post("/panel/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert_strict_page(response)


def test_server_error_page_carries_the_policy(monkeypatch):
    import tenants.views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tenants.views, "render", broken)
    client = platform_client()
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    assert_strict_page(response)


def test_json_answers_carry_the_policy_too(net_a):
    """The APIs are no pages, but a JSON answer opened in a tab is still a document."""
    response = net_a.owner.api().get("/api/v1/partners")
    assert response.status_code == 200
    assert policy_of(response)["default-src"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_forms_may_leave_only_for_our_hosts_and_amocrm_consent():
    """Browsers check form-action on the redirect after a post as well: the sign-up ends on the
    new network's host, the amoCRM button on amoCRM's consent page; nothing else is allowed."""
    response = platform_client().get("/")
    form_action = policy_of(response)["form-action"]
    consent = re.match(r"https://[^/]+", OAUTH_CONSENT_URL)
    assert consent is not None
    assert set(form_action) == {
        "'self'",
        f"{settings.PLATFORM_SCHEME}://*.{settings.PLATFORM_DOMAIN}:*",
        consent.group(0),
    }


def test_the_inline_markup_check_catches_what_the_policy_blocks():
    """The markup check above must be able to fail."""
    for html in (
        "<style>p{}</style>",
        '<p style="color:red">',
        '<button onclick="go()">',
        "<script>go()</script>",
        '<a href="javascript:go()">',
    ):
        with pytest.raises(AssertionError):
            assert_no_inline_code(html, "/sample")
    assert_no_inline_code(
        '<script src="/static/a.js"></script><script type="application/json">{}</script>'
        '<p data-style="x" class="onboarding">',
        "/sample",
    )
