"""Fixtures of the page and compare-API tests: the study cells with data, logged-in browsers per role."""
import pytest
from django.core.management import call_command
from django.test import Client

from tests.web.helpers import load_study


@pytest.fixture(scope="session", autouse=True)
def vendored_static():
    call_command("vendor_static", verbosity=0)


@pytest.fixture
def study(project):
    """The six study cells in the `project` fixture's project ("LNTO coating study"), data imported."""
    return load_study()


def web_client(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def viewer_web(viewer):
    return web_client(viewer)


@pytest.fixture
def researcher_web(researcher):
    return web_client(researcher)


@pytest.fixture
def outsider_web(outsider):
    return web_client(outsider)
