"""Fixtures of the effects API and page tests: the demo study (3 LNTO-coated + 3 bare) with data imported."""
import pytest
from django.core.management import call_command

from tests.web.helpers import load_study


@pytest.fixture(scope="session")
def vendored_static():
    call_command("vendor_static", verbosity=0)


@pytest.fixture
def study(project):
    """The six study cells in the `project` fixture's project, LAND exports imported (12 cycles)."""
    return load_study()
