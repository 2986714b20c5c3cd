"""What the CRM fakes share: a threaded HTTP server on 127.0.0.1 and its lifecycle.

A fake subclasses ``ServedFake``, names its request handler (a ``FakeHandler``) and thread, and
keeps to itself what it serves; ``start``/``stop``, ``with fake:`` and ``base_url`` come from here.
"""

from __future__ import annotations

import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 50 client threads connect at once in the tests


class FakeHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler; the served fake is its class attribute ``fake``."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def read_request(self) -> tuple[dict[str, str], bytes]:
        """The request's headers (lower-case names) and its body."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return {k.lower(): v for k, v in self.headers.items()}, body


class ServedFake:
    handler_class: ClassVar[type[FakeHandler]]
    thread_name: ClassVar[str]

    def __init__(self, *, seed: int | None, port: int) -> None:
        self.port = port
        self.lock = threading.RLock()  # the handler's threads and the test share the state
        self.rng = random.Random(seed)
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        handler = type(f"{type(self).__name__}Handler", (self.handler_class,), {"fake": self})
        server = FakeHTTPServer(("127.0.0.1", self.port), handler)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"
