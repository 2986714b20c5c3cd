"""The widget's fuzz test needs a network bound to a fake amoCRM account (tests/crm_sync)."""

from tests.crm_sync.conftest import amo, connected  # noqa: F401  (fixtures)
