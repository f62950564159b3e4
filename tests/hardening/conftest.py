"""Fixtures shared by the hardening tests (the browser ones are in tests/conftest.py)."""
