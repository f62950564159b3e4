"""A project member without a role sees what is withheld and which permission it needs, not empty plots."""
import pytest

from tests.factories import UserFactory
from tests.web.conftest import web_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(project):
    user = UserFactory(username="norole")
    project.members.add(user)
    return user


def test_it_tells_a_member_without_a_role_why_the_cell_plots_are_missing(member, study):
    cell = study["cells"][0]
    resp = web_client(member).get(f"/cells/{cell.pk}/")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert 'id="permission-notice"' in body and 'id="plots-denied"' in body
    assert ('The cycling plots, figures and exports: not shown to you, it needs the permission '
            '<code>cycling.view_cyclesummary</code> (the viewer, researcher or lab-admin roles grant it).') in body
    assert '<div class="plot-grid" id="cell-plots" hidden>' in body
    assert "without a lab role" in body


def test_it_shows_a_viewer_the_plots_without_a_notice(viewer, study):
    body = web_client(viewer).get(f"/cells/{study['cells'][0].pk}/").content.decode()
    assert 'id="permission-notice"' not in body and 'id="plots-denied"' not in body
    assert '<div class="plot-grid" id="cell-plots" >' in body


@pytest.mark.parametrize("path, perm", [
    ("/compare/", "cycling.view_cyclesummary"),
    ("/board/", "monitoring.view_runstate"),
    ("/alerts/", "monitoring.add_alert"),
])
def test_it_names_the_missing_permission_on_every_page_that_needs_one(member, study, path, perm):
    body = web_client(member).get(path).content.decode()
    assert f'<li data-perm="{perm}">' in body


def test_it_names_the_missing_permission_on_the_impedance_page(member, study):
    body = web_client(member).get(f"/cells/{study['cells'][0].pk}/impedance/").content.decode()
    assert '<li data-perm="impedance.view_eisspectrum">' in body


def test_the_api_names_the_permission_it_refuses_for(member, study):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(member)
    resp = client.get(f"/api/v1/cells/{study['cells'][0].pk}/curves/?cycles=1")
    assert resp.status_code == 403
    assert "cycling.view_cyclesummary" in resp.json()["detail"]


def test_a_viewer_is_told_what_uploading_and_refitting_need(viewer, study):
    cell = study["cells"][0]
    page = web_client(viewer).get(f"/cells/{cell.pk}/").content.decode()
    assert 'id="upload-denied"' in page and "<code>cycling.add_datafile</code>" in page
    refused = web_client(viewer).post(f"/cells/{cell.pk}/impedance/", {"spectrum": "1", "circuit": "R0-p(R1,C1)"})
    assert refused.status_code == 403 and "impedance.change_eisspectrum" in refused.content.decode()
