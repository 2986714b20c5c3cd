"""httpx logs every request URL; Bitrix24's token endpoint carries the client secret, the refresh
token and the code in its query (spec §2.2): crm_connectors/bitrix24/oauth.py masks them."""

from __future__ import annotations

import logging

import crm_connectors.bitrix24.oauth  # noqa: F401  (installs the filter on the httpx logger)


def test_token_endpoint_secrets_never_reach_the_httpx_log_line(caplog):
    url = (
        "https://oauth.bitrix.info/oauth/token/?grant_type=refresh_token"
        "&client_id=app.1&client_secret=SENTINEL-CS&refresh_token=SENTINEL-RT&code=SENTINEL-CODE"
    )
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info('HTTP Request: %s %s "%s"', "GET", url, "HTTP/1.1 200 OK")

    (record,) = [r for r in caplog.records if r.name == "httpx"]
    line = record.getMessage()
    assert "SENTINEL" not in line
    assert "client_secret=***" in line and "refresh_token=***" in line and "code=***" in line
    assert "client_id=app.1" in line  # not a secret: kept for the reader


def test_other_urls_are_left_as_they_are(caplog):
    url = "https://portal.bitrix24.ru/rest/crm.deal.get.json?id=7"
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info("HTTP Request: %s %s", "POST", url)
    assert url in caplog.records[-1].getMessage()
