"""Shared fixtures: users in each lab role, API clients for them, a study cell."""
import pytest
from rest_framework.test import APIClient

from cells.roles import LAB_ADMIN, RESEARCHER, VIEWER
from tests.factories import CellFactory, DeviceFactory, ProjectFactory, UserFactory


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
