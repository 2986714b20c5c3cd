"""Fixtures for the amoCRM widget tests. No Django here: these run with `-p no:django` too.

- `widget_build`: the build script loaded as a module (frontend/amocrm_widget/build.py).
- `widget_backend`: what the widget calls. A stub of the Widget API for now; override this fixture
  (session scope, an object with `.url`, `.secret`) to point the browser tests at a real server.
- `widget_host`: a local HTTP server with the amoCRM stand-in page, jQuery and the built widget.
- `browser` / `page`: Chromium through Playwright, with the disposable-token minter exposed to the
  page as `fplMintToken`.

The stand-in page is served under a strict Content-Security-Policy (`host_policy`: scripts and
styles only from the page's own origin, calls only to the backend), and a test fails on any
violation: the widget must work on an amoCRM page that allows no inline script or style.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.csp_watch import watch_csp

from .stub_backend import StubBackend, mint_token

REPO_ROOT = Path(__file__).resolve().parents[2]
WIDGET_SRC = REPO_ROOT / "frontend" / "amocrm_widget"
HOST_SRC = Path(__file__).resolve().parent / "host"
SANDBOX_STATIC = REPO_ROOT / "frontend" / "static" / "sandbox"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
JQUERY_CANDIDATES = [
    os.environ.get("WIDGET_TEST_JQUERY", ""),
    "/usr/share/javascript/jquery/jquery.min.js",
    "/usr/share/javascript/jquery/jquery.js",
]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def load_build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fpl_widget_build", WIDGET_SRC / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def widget_build() -> ModuleType:
    return load_build_module()


# ------------------------------------------------------------------------------ servers


def copy_host_page(dest: Path) -> None:
    """The stand-in card into ``dest``: its page from tests/widget/host, its look and its host
    script the sandbox's own (one copy serves the demo and the tests)."""
    shutil.copytree(HOST_SRC, dest, dirs_exist_ok=True)
    for name in ("host.css", "host.js"):
        shutil.copyfile(SANDBOX_STATIC / name, dest / name)


def host_policy(backend_url: str) -> str:
    """The stand-in's Content-Security-Policy: nothing inline, calls only to the backend."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {backend_url}; frame-ancestors 'none'; base-uri 'none'"
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        policy = getattr(self.server, "csp_policy", "")
        if policy:
            self.send_header("Content-Security-Policy", policy)
        super().end_headers()


@dataclass
class WidgetHost:
    root: Path
    url: str = ""
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)

    def start(self) -> WidgetHost:
        handler = partial(_QuietHandler, directory=str(self.root))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def card_url(self, **params: Any) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.url}/host/index.html?{query}"


@pytest.fixture(scope="session")
def _host_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WidgetHost]:
    host = WidgetHost(tmp_path_factory.mktemp("widget_host")).start()
    yield host
    host.stop()


@pytest.fixture(scope="session")
def widget_backend(_host_server: WidgetHost) -> Iterator[StubBackend]:
    """The Widget API the built widget talks to (a stub; see the module docstring)."""
    backend = StubBackend(origin_allowed=_host_server.url).start()
    yield backend
    backend.stop()


@pytest.fixture
def stub(widget_backend: StubBackend) -> StubBackend:
    """The stub backend with its scenarios and request log reset for this test."""
    if not isinstance(widget_backend, StubBackend):
        pytest.skip("needs the stub backend's scenarios")
    widget_backend.reset()
    return widget_backend


@pytest.fixture(scope="session")
def widget_host(
    _host_server: WidgetHost,
    widget_backend: StubBackend,
    widget_build: ModuleType,
    tmp_path_factory: pytest.TempPathFactory,
) -> WidgetHost:
    """The stand-in page, jQuery (copied at run time, never committed) and the built widget."""
    jquery = next((Path(p) for p in JQUERY_CANDIDATES if p and Path(p).is_file()), None)
    if jquery is None:
        pytest.skip("jQuery not found: apt-get install -y libjs-jquery (or set WIDGET_TEST_JQUERY)")
    root = _host_server.root
    assert _host_server._server is not None
    _host_server._server.csp_policy = host_policy(widget_backend.url)  # type: ignore[attr-defined]
    copy_host_page(root / "host")
    (root / "vendor").mkdir(exist_ok=True)
    shutil.copyfile(jquery, root / "vendor" / "jquery.js")
    archive = widget_build.build_widget(
        widget_backend.url, tmp_path_factory.mktemp("widget_zip") / "widget.zip"
    )
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(root / "widget")
    return _host_server


# ------------------------------------------------------------------------------ browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Playwright's sync API cannot run twice in one thread: held
    for the session, it made every browser suite collected after this one fail to start (it only
    passed because `tests/widget` sorts last)."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class TokenLog:
    minted: list[str] = field(default_factory=list)


@pytest.fixture
def minted_tokens() -> TokenLog:
    return TokenLog()


@pytest.fixture
def page(
    browser: Any, widget_host: WidgetHost, widget_backend: StubBackend, minted_tokens: TokenLog
) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1180, "height": 820}, locale="ru-RU", device_scale_factor=1
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=widget_host.url)
    violations: list[str] = []
    watch_csp(context, violations)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))

    def mint(account_id: int, subdomain: str, user_id: int) -> str:
        token = mint_token(
            secret=widget_backend.secret,
            audience=widget_backend.url,
            account_id=account_id,
            subdomain=subdomain,
            user_id=user_id,
        )
        minted_tokens.minted.append(token)
        return token

    tab.expose_function("fplMintToken", mint)
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
