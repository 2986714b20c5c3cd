"""The panel's browser fixtures, shared with the royalty statement's browser test."""

from tests.panel.conftest import (  # noqa: F401  (fixtures shared with the panel's browser tests)
    browser_network,
    chromium,
    csp_clean,
    live_server_port,
    panel_site,
    shoot,
)
