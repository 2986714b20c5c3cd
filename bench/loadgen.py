"""A lean HTTP/1.1 load generator for saturation figures.

The benchmark client runs on the same two cores as the server. An httpx client in the benchmark's
own process (which also hosts the fakes) spends more CPU per request than the callback view does,
so it measured itself. This one sends pre-encoded requests over kept-alive sockets from a separate
process: a request costs it one `sendall` and a few `recv`s, and the server gets the CPU.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from dataclasses import dataclass
from queue import Empty
from urllib.parse import urlencode


@dataclass(frozen=True)
class Outcome:
    statuses: dict[int, int]
    bodies_ok: int
    seconds: float
    latencies: list[float]
    errors: int = 0  # requests that got no answer (refused, reset or closed connections)

    @property
    def rate(self) -> float:
        return sum(self.statuses.values()) / self.seconds if self.seconds else 0.0


def request_bytes(method: str, host: str, path: str, form: dict[str, str] | None = None) -> bytes:
    body = urlencode(form).encode() if form is not None else b""
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    if form is not None:
        head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _Conn:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buf = b""

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        return sock

    def _read_until(self, marker: bytes) -> bytes:
        assert self.sock is not None
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _read_exactly(self, n: int) -> bytes:
        assert self.sock is not None
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, raw: bytes) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                if self.sock is None:
                    self.sock = self._open()
                self.sock.sendall(raw)
                return self._response()
            except (ConnectionError, OSError):
                # The server closed an idle keep-alive connection: reconnect once.
                if self.sock is not None:
                    self.sock.close()
                self.sock = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _response(self) -> tuple[int, bytes]:
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")
                    break
                body += self._read_exactly(size)
                self._read_exactly(2)
        else:
            body = self._read_exactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close" and self.sock is not None:
            self.sock.close()
            self.sock = None
        return status, body


def _run(
    port: int, requests: list[bytes], concurrency: int, expect_prefix: bytes, out: object
) -> None:
    lock = threading.Lock()
    cursor = iter(range(len(requests)))
    statuses: dict[int, int] = {}
    ok = 0
    errors = 0
    latencies: list[float] = []

    def loop() -> None:
        nonlocal ok, errors
        conn = _Conn(port)
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                return
            began = time.perf_counter()
            try:
                status, body = conn.send(requests[i])
            except OSError:  # ConnectionError included: counted, and a new connection next
                with lock:
                    errors += 1
                conn = _Conn(port)
                continue
            elapsed = time.perf_counter() - began
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                ok += body.startswith(expect_prefix)
                latencies.append(elapsed)

    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    out.put((statuses, ok, seconds, latencies, errors))  # type: ignore[attr-defined]


def blast(
    port: int, requests: list[bytes], *, concurrency: int = 16, expect_prefix: bytes = b""
) -> Outcome:
    """Send every request with `concurrency` kept-alive connections from a child process."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(port, requests, concurrency, expect_prefix, queue))
    proc.start()
    deadline = time.monotonic() + 600
    while True:
        try:
            statuses, ok, seconds, latencies, errors = queue.get(timeout=1)
            break
        except Empty:
            if not proc.is_alive():
                raise RuntimeError(f"the load generator exited with {proc.exitcode}") from None
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError("the load generator took over 10 minutes") from None
    proc.join(30)
    return Outcome(
        statuses=statuses, bodies_ok=ok, seconds=seconds, latencies=latencies, errors=errors
    )
