"""Fixtures shared by the hardening tests: the browser ones come from tests/browser."""
from tests.browser.conftest import browser, page  # noqa: F401 (re-exported fixtures)
