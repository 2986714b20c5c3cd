"""One resolution of the client address, through the configured number of trusted proxies, for
every consumer: a forged X-Forwarded-For beyond the configured hops changes nothing."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from franchise_platform.request_context import client_ip, client_ip_bucket


def _request(xff: str | None = None, remote: str = "10.0.0.9"):
    meta = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    ("hops", "xff", "expected"),
    [
        (0, "203.0.113.7", "10.0.0.9"),  # no proxy: the header is the client's own claim
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # a forged entry left of nginx's
        (1, "6.6.6.6,6.6.6.7,   203.0.113.7", "203.0.113.7"),
        (2, "6.6.6.6, 203.0.113.7, 192.0.2.1", "203.0.113.7"),
        (2, "203.0.113.7", "203.0.113.7"),  # fewer hops than configured: the furthest one
        (1, None, "10.0.0.9"),  # nobody forwarded it: the peer itself
        (1, "6.6.6.6, garbage", "10.0.0.9"),  # unusable: never the forged address
        (2, "6.6.6.6, unknown, 192.0.2.1", "192.0.2.1"),
        (1, "[2001:db8::1]:443", "2001:db8::1"),
        (1, "203.0.113.7:5123", "203.0.113.7"),
        (1, "::ffff:203.0.113.7", "203.0.113.7"),
    ],
)
def test_the_client_is_the_configured_number_of_hops_from_the_right(settings, hops, xff, expected):
    settings.CLIENT_IP_PROXY_HOPS = hops

    assert client_ip(_request(xff)) == expected


def test_an_unreadable_peer_address_is_still_a_valid_address(settings):
    settings.CLIENT_IP_PROXY_HOPS = 0

    assert client_ip(_request(remote="")) == "0.0.0.0"


def test_resolved_once_per_request(settings):
    settings.CLIENT_IP_PROXY_HOPS = 1
    request = _request("203.0.113.7")
    first = client_ip(request)
    request.META["HTTP_X_FORWARDED_FOR"] = "6.6.6.6"

    assert client_ip(request) == first == "203.0.113.7"


def test_rate_limits_count_an_ipv6_client_by_its_slash_64():
    assert client_ip_bucket("2001:db8:1:2::1") == client_ip_bucket("2001:db8:1:2:ffff::9")
    assert client_ip_bucket("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_ip_bucket("203.0.113.7") == "203.0.113.7"


@pytest.mark.django_db
def test_audit_entries_record_the_forwarded_client(owner_a, net_a, settings):
    from django_tenants.utils import tenant_context

    from franchise_platform.security.models import AuditEntry

    settings.CLIENT_IP_PROXY_HOPS = 1
    client = owner_a.browser_client()
    client.post(
        "/panel/tokens/",
        {"name": "ci"},
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7",
        REMOTE_ADDR="10.0.0.9",
    )

    with tenant_context(net_a.network):
        entry = AuditEntry.objects.filter(action="api_token.create").latest("created_at")
    assert entry.ip_address == "203.0.113.7"
