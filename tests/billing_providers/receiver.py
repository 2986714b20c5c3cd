"""A tiny shop-side HTTP server standing in for the core's ResultURL view in provider tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# params -> (status, body, content type)
Handler = Callable[[dict[str, str]], tuple[int, str, str]]


class CallbackReceiver:
    """Serves ``url`` on 127.0.0.1; GET query or POST form → ``handler(params)``. Every
    request's params are kept in ``received``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.received: list[dict[str, str]] = []
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    body = self.rfile.read(length).decode()
                    params.update(parse_qsl(body, keep_blank_values=True))
                receiver.received.append(params)
                status, text, content_type = receiver.handler(params)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/callbacks/robokassa/result/"

    def __enter__(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
