"""Benchmark floors (PERF_FLOOR_ENDPOINTS=1 only): the same request paths as the measured ones,
ending after one tenant-routed database read, so each figure can be reported as a ratio to what
routing, auth and one query cost on the same machine in the same run."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from franchise_platform.network.models import Partner


def network_floor(request: HttpRequest, partner_id: str = "") -> HttpResponse:
    """Network host: host routing to the schema, then one read."""
    Partner.objects.filter(pk=partner_id).exists()
    return HttpResponse("OK", content_type="text/plain")
