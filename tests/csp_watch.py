"""Content-Security-Policy violations seen by a real Chromium, for every browser suite.

`watch_csp(context, into)` makes every page of a Playwright browser context report each
`securitypolicyviolation` event (the browser fires one for everything the policy blocks: an inline
style, a script, a form sent elsewhere) and each console message Chromium prints for a refusal.
`CspWatchedBrowser` wraps a browser so every context it opens is watched; the suites' fixtures fail
the test that saw any (tests/panel/conftest.py `csp_clean`, tests/widget/conftest.py `page`).

Playwright injects the listener over the DevTools protocol, so the policy under test does not
apply to the listener itself.
"""

from __future__ import annotations

from typing import Any

_LISTENER = """
window.fplCspViolations = 0;
document.addEventListener("securitypolicyviolation", (event) => {
  window.fplCspViolations += 1;  // lets a test wait for the report of a violation it provoked
  window.fplReportCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} on ${event.documentURI}`
    + ` (${event.sourceFile || "?"}:${event.lineNumber}) ${event.sample || ""}`
  );
}, true);
"""


def watch_csp(context: Any, into: list[str]) -> Any:
    """Record every CSP violation of `context`'s pages into `into`; returns the context."""
    context.expose_binding("fplReportCspViolation", lambda _source, text: into.append(text))
    context.add_init_script(_LISTENER)

    def on_console(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            into.append(f"console: {message.text}")

    context.on("console", on_console)
    return context


class CspWatchedBrowser:
    """A Playwright Browser whose new contexts and pages are all watched; `violations` collects
    what any of them reported (a test takes and clears it)."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self.violations: list[str] = []

    def new_context(self, **options: Any) -> Any:
        return watch_csp(self._browser.new_context(**options), self.violations)

    def new_page(self, **options: Any) -> Any:
        return self.new_context(**options).new_page()

    def take_violations(self) -> list[str]:
        taken, self.violations[:] = list(self.violations), []
        return taken

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


_STYLE_STATE = """() => ({
  sheets: [...document.querySelectorAll('link[rel="stylesheet"]')].map(
    (link) => [link.getAttribute("href"), link.sheet ? link.sheet.cssRules.length : -1]),
  inlineStyles: document.querySelectorAll("style").length,
  font: getComputedStyle(document.body).fontFamily,
})"""


def assert_styled(page: Any) -> None:
    """The page's own stylesheets loaded and apply (a blocked sheet has no rules, and the body
    falls back to the browser's serif font), and nothing added an inline <style>."""
    state = page.evaluate(_STYLE_STATE)
    assert state["sheets"], f"no stylesheet on {page.url}"
    for href, rules in state["sheets"]:
        assert rules > 0, f"{href} did not load on {page.url}"
    assert state["inlineStyles"] == 0, f"an inline <style> appeared on {page.url}"
    assert "Times" not in state["font"], f"unstyled body on {page.url}: {state['font']}"
