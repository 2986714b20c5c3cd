"""An httpx transport that sends `*.localhost` to 127.0.0.1, keeping the Host header.

Network hosts are `<slug>.localhost`; browsers resolve them to loopback, but glibc does not, so
the fakes (which call our Result URL like Robokassa does) use this transport."""

from __future__ import annotations

import httpx


class LoopbackTransport(httpx.BaseTransport):
    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == "localhost" or host.endswith(".localhost"):
            request.headers["Host"] = request.url.netloc.decode()
            request.url = request.url.copy_with(host="127.0.0.1")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def loopback_client(**kwargs: object) -> httpx.Client:
    return httpx.Client(transport=LoopbackTransport(), **kwargs)  # type: ignore[arg-type]
