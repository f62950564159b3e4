"""Fixtures shared by the hardening tests: the browser ones come from tests/browser."""
