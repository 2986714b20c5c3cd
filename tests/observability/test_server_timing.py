"""`Server-Timing: app;dur=<ms>` on every answer: a browser's network panel and the benchmark read
our own time from it, apart from the network's."""

from __future__ import annotations

import re

import pytest

from tests.personas import platform_client

pytestmark = pytest.mark.django_db

TIMING = re.compile(r"^app;dur=(\d+\.\d)$")


def test_every_kind_of_answer_carries_the_time_spent_in_the_app(in_network):
    answers = {
        "network page": in_network.anonymous().get("/pay/no-such-link"),
        "platform page": platform_client().get("/"),
        "unknown host": platform_client().get("/", HTTP_HOST="nobody.example.org"),
    }

    for what, response in answers.items():
        match = TIMING.match(response.get("Server-Timing", ""))
        assert match, f"{what}: {response.get('Server-Timing')!r}"
        assert float(match.group(1)) >= 0


def test_the_time_grows_with_the_work_done(in_network, monkeypatch):
    from franchise_platform.payments import views

    def slow(*args, **kwargs):
        import time

        time.sleep(0.05)
        raise views.PaymentLink.DoesNotExist

    monkeypatch.setattr(views, "invoice_for_link", slow)

    response = in_network.anonymous().get("/pay/no-such-link")

    assert response.status_code == 404
    assert float(TIMING.match(response["Server-Timing"]).group(1)) >= 50
