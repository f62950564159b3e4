"""Browser tests: Debian's chromium through Playwright's sync API against pytest-django's live_server.

The browser, page and screenshots fixtures live in tests/conftest.py: one Playwright per test session.
"""
import pytest
from django.core.management import call_command


@pytest.fixture(scope="session", autouse=True)
def vendored_static():
    call_command("vendor_static", verbosity=0)
