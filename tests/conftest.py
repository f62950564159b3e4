"""Shared fixtures: users in each lab role, API clients for them, a study cell, the browser."""
import os
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from cells.roles import LAB_ADMIN, RESEARCHER, VIEWER
from tests.factories import CellFactory, DeviceFactory, ProjectFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_dashboard_cache(settings):
    """Each test starts with an empty in-memory dashboard cache: rolled-back tests may reuse a cell's id.
    Only a per-process cache is cleared, never a shared Redis one (flushing a db also flushes its queue)."""
    from django.core.cache import caches

    if "locmem" in settings.CACHES["dashboard"]["BACKEND"]:
        caches["dashboard"].clear()


@pytest.fixture
def project(db):
    return ProjectFactory(name="LNTO coating study")


@pytest.fixture
def viewer(project):
    user = UserFactory(username="viewer", roles=[VIEWER])
    project.members.add(user)
    return user


@pytest.fixture
def researcher(project):
    user = UserFactory(username="researcher", roles=[RESEARCHER])
    project.members.add(user)
    return user


@pytest.fixture
def lab_admin(db):
    return UserFactory(username="labadmin", roles=[LAB_ADMIN], is_staff=True)


@pytest.fixture
def outsider(db):
    """A researcher of another project."""
    user = UserFactory(username="outsider", roles=[RESEARCHER])
    ProjectFactory(name="Other project").members.add(user)
    return user


def client_for(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api(researcher):
    return client_for(researcher)


@pytest.fixture
def device(project):
    dev = DeviceFactory(name="cycler-pc-1")
    dev.projects.add(project)
    return dev


@pytest.fixture
def device_api(device):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {device.key}")
    return client


@pytest.fixture
def cell(project):
    return CellFactory(project=project, name="LNTO-01")


# --- browser (one Playwright and one chromium for the whole session) ----------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--headless=new"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium (never a downloaded browser); `.ci/run` installs it with apt-get when missing."""
    if not os.path.exists(CHROMIUM):
        message = "no /usr/bin/chromium: apt-get install -y chromium (.ci/run does it)"
        # In CI a missing browser is a failure, never a silent skip.
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield chromium
            chromium.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()


@pytest.fixture
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
