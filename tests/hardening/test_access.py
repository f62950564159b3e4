"""Who may do what: roles, device tokens, project scoping on every endpoint and page, brute-force lockout,
CSRF, security headers and CSP, no public media, no secrets in the repository, and the audit trail."""
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cells.models import AuditEvent, Cell
from cycling import services
from cycling.models import DataFile
from tests.conftest import client_for
from tests.factories import (
    CellFactory,
    DeviceFactory,
    GroupFactory,
    MaterialFactory,
    ProjectFactory,
    UserFactory,
)
from tests.helpers import post_datafile
from tests.landfiles import study_export

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-for-tests-123"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "object-src 'none'; base-uri 'self'; frame-ancestors 'none'")


@pytest.fixture(scope="module")
def export_bytes():
    return study_export("coated", n_cycles=3, points=15)[0]


@pytest.fixture
def imported(device_api, cell, export_bytes):
    """The project's cell with one imported file."""
    resp = post_datafile(device_api, cell, export_bytes)
    assert services.datafile_ingest(datafile_id=resp.json()["id"]) == "imported"
    return DataFile.objects.get(pk=resp.json()["id"])


def _cell_payload(project, name="LNTO-NEW"):
    group = GroupFactory(project=project, name="coated")
    return {
        "name": name, "project": project.pk, "group": group.pk, "replicate_number": 1,
        "cathode_material": MaterialFactory().pk,
        "electrolyte": MaterialFactory(name="LGPS", kind="solid_electrolyte", theoretical_capacity_mah_g=None).pk,
        "anode": MaterialFactory(name="In-Li", kind="anode", theoretical_capacity_mah_g=None).pk,
        "cathode_active_fraction": 0.7, "composite_loading_mg_cm2": 12.0, "die_diameter_mm": 10.0,
        "theoretical_capacity_mah_g": 160.0, "voltage_min_v": 2.5, "voltage_max_v": 4.4,
    }


# --- roles ------------------------------------------------------------------------------------------

def test_a_viewer_reads_everything_of_the_project_and_changes_nothing(viewer, project, cell, imported, export_bytes):
    api = client_for(viewer)
    for url in ("/api/v1/cells/", f"/api/v1/cells/{cell.pk}/", "/api/v1/datafiles/",
                f"/api/v1/datafiles/{imported.pk}/", f"/api/v1/cells/{cell.pk}/cycles/",
                f"/api/v1/cells/{cell.pk}/curves/", f"/api/v1/cells/{cell.pk}/dqdv/",
                f"/api/v1/datafiles/{imported.pk}/download/"):
        assert api.get(url).status_code == 200, url
    assert api.post("/api/v1/cells/", _cell_payload(project), format="json").status_code == 403
    assert api.patch(f"/api/v1/cells/{cell.pk}/", {"notes": "x"}, format="json").status_code == 403
    assert api.delete(f"/api/v1/cells/{cell.pk}/").status_code == 403
    assert post_datafile(api, cell, export_bytes + b" ").status_code == 403
    assert api.post(f"/api/v1/datafiles/{imported.pk}/reprocess/").status_code == 403
    assert api.delete(f"/api/v1/datafiles/{imported.pk}/").status_code == 403
    assert DataFile.objects.count() == 1 and Cell.objects.filter(pk=cell.pk).exists()


def test_a_researcher_registers_and_uploads_but_does_not_delete_cells(researcher, project, cell, export_bytes):
    api = client_for(researcher)
    resp = api.post("/api/v1/cells/", _cell_payload(project), format="json")
    assert resp.status_code == 201, resp.content
    assert api.patch(f"/api/v1/cells/{cell.pk}/", {"notes": "pressed twice"}, format="json").status_code == 200
    assert post_datafile(api, cell, export_bytes).status_code == 202
    assert api.delete(f"/api/v1/cells/{cell.pk}/").status_code == 403
    assert api.get("/api/v1/projects/").status_code == 200


def test_a_lab_admin_deletes_cells(lab_admin, cell):
    assert client_for(lab_admin).delete(f"/api/v1/cells/{cell.pk}/").status_code == 204
    assert not Cell.objects.filter(pk=cell.pk).exists()


def test_a_user_without_a_role_and_an_anonymous_caller_get_nothing(project, cell, imported):
    nobody = UserFactory(username="norole")
    project.members.add(nobody)
    for url in ("/api/v1/cells/", f"/api/v1/datafiles/{imported.pk}/", f"/api/v1/cells/{cell.pk}/cycles/"):
        assert client_for(nobody).get(url).status_code == 403, url
        assert APIClient().get(url).status_code == 401, url


# --- device tokens --------------------------------------------------------------------------------

def test_a_device_token_only_uploads_and_reads_the_status(device_api, cell, imported, export_bytes):
    resp = post_datafile(device_api, cell, export_bytes + b"\n")
    assert resp.status_code == 202
    assert device_api.get(resp.json()["status_url"]).status_code == 200
    denied = [
        ("get", "/api/v1/datafiles/"), ("get", f"/api/v1/datafiles/{imported.pk}/download/"),
        ("delete", f"/api/v1/datafiles/{imported.pk}/"), ("post", f"/api/v1/datafiles/{imported.pk}/reprocess/"),
        ("get", "/api/v1/cells/"), ("get", f"/api/v1/cells/{cell.pk}/"), ("get", f"/api/v1/cells/{cell.pk}/cycles/"),
        ("get", f"/api/v1/cells/{cell.pk}/curves/"), ("get", f"/api/v1/cells/{cell.pk}/dqdv/"),
        ("get", f"/api/v1/compare/?cells={cell.pk}"), ("get", "/api/v1/projects/"), ("get", "/api/v1/materials/"),
        ("post", "/api/v1/materials/"),
    ]
    for method, url in denied:
        assert getattr(device_api, method)(url).status_code == 403, (method, url)
    assert DataFile.objects.filter(pk=imported.pk).exists()


def test_a_device_sees_only_its_projects_files_and_cells(device, cell, imported, export_bytes):
    other = DeviceFactory(name="cycler-pc-other")
    other.projects.add(ProjectFactory(name="Other lab"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {other.key}")
    assert api.get(f"/api/v1/datafiles/{imported.pk}/").status_code == 404
    assert post_datafile(api, cell, export_bytes).status_code == 400


def test_a_disabled_device_or_a_wrong_token_is_refused(device, cell, export_bytes):
    device.is_active = False
    device.save()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {device.key}")
    assert post_datafile(api, cell, export_bytes).status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert post_datafile(api, cell, export_bytes).status_code == 401


# --- project scoping -------------------------------------------------------------------------------

def test_a_user_of_another_project_sees_none_of_it_anywhere(outsider, cell, imported):
    api = client_for(outsider)
    for url in ("/api/v1/cells/", "/api/v1/datafiles/", "/api/v1/projects/", "/api/v1/groups/"):
        body = api.get(url).json()
        assert cell.name not in str(body) and project_name(cell) not in str(body), url
    for url in (f"/api/v1/cells/{cell.pk}/", f"/api/v1/datafiles/{imported.pk}/",
                f"/api/v1/datafiles/{imported.pk}/download/", f"/api/v1/cells/{cell.pk}/cycles/",
                f"/api/v1/cells/{cell.pk}/curves/", f"/api/v1/cells/{cell.pk}/dqdv/"):
        assert api.get(url).status_code == 404, url  # 404, not 403: existence is not revealed
    assert api.post(f"/api/v1/datafiles/{imported.pk}/reprocess/").status_code == 404
    assert api.delete(f"/api/v1/datafiles/{imported.pk}/").status_code == 404
    assert api.patch(f"/api/v1/cells/{cell.pk}/", {"notes": "x"}, format="json").status_code == 404
    compared = api.get(f"/api/v1/compare/?cells={cell.pk}")
    assert compared.status_code in (200, 400, 404) and cell.name not in compared.content.decode()

    web = Client()
    web.force_login(outsider)
    assert cell.name not in web.get("/").content.decode()
    assert web.get(f"/cells/{cell.pk}/").status_code == 404
    assert web.get(f"/cells/{cell.pk}/cycles/export/?format=csv").status_code == 404
    assert cell.name not in web.get(f"/compare/?cells={cell.pk}").content.decode()
    assert cell.name not in web.get(f"/compare/export/?table=cells&format=csv&cells={cell.pk}").content.decode()
    assert DataFile.objects.filter(pk=imported.pk, status="imported").exists()


def project_name(cell):
    return cell.project.name


def test_a_member_sees_the_project_on_every_page(viewer, cell, imported):
    web = Client()
    web.force_login(viewer)
    assert cell.name in web.get("/").content.decode()
    assert web.get(f"/cells/{cell.pk}/").status_code == 200
    assert web.get(f"/cells/{cell.pk}/cycles/export/?format=csv").status_code == 200
    assert cell.name in web.get(f"/compare/?cells={cell.pk}").content.decode()


def test_pages_ask_anonymous_visitors_to_log_in(cell):
    for url in ("/", f"/cells/{cell.pk}/", "/compare/"):
        resp = Client().get(url)
        assert resp.status_code == 302 and "/accounts/login/" in resp["Location"], url


# --- brute force -----------------------------------------------------------------------------------

def _login(client, password):
    return client.post("/accounts/login/", {"username": "victim", "password": password},
                       REMOTE_ADDR="203.0.113.7")


def test_it_locks_an_account_after_5_failed_logins_until_the_cool_off(db, settings):
    from axes.models import AccessAttempt

    UserFactory(username="victim")
    client = Client()
    for _ in range(4):
        assert _login(client, "wrong").status_code == 200  # the form again, with an error
    locked = _login(client, "wrong")
    assert locked.status_code in (403, 429)
    refused = _login(client, PASSWORD)
    assert refused.status_code in (403, 429) and "_auth_user_id" not in client.session
    # After the cool-off the right password works again.
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.first().attempt_time
                                 - timedelta(hours=settings.AXES_COOLOFF_TIME, minutes=1))
    ok = _login(client, PASSWORD)
    assert ok.status_code == 302 and "_auth_user_id" in client.session


# --- CSRF -------------------------------------------------------------------------------------------

def test_the_login_form_requires_a_csrf_token(db):
    UserFactory(username="victim")
    client = Client(enforce_csrf_checks=True)
    assert client.post("/accounts/login/", {"username": "victim", "password": PASSWORD}).status_code == 403
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    resp = client.post("/accounts/login/", {"username": "victim", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert resp.status_code == 302


def test_session_authenticated_api_writes_require_a_csrf_token(researcher, project, cell, export_bytes):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(researcher)  # a browser session (login() itself goes through axes, which wants a request)
    assert api.get("/api/v1/cells/").status_code == 200  # reads need no token
    resp = api.post("/api/v1/cells/", _cell_payload(project), format="json")
    assert resp.status_code == 403 and "CSRF" in str(resp.json())
    assert api.patch(f"/api/v1/cells/{cell.pk}/", {"notes": "x"}, format="json").status_code == 403
    assert post_datafile(api, cell, export_bytes).status_code == 403
    api.get("/accounts/login/")  # sets the csrftoken cookie, as the pages do
    token = api.cookies["csrftoken"]
    resp = api.post("/api/v1/cells/", _cell_payload(project), format="json", HTTP_X_CSRFTOKEN=token.value)
    assert resp.status_code == 201, resp.content
    assert DataFile.objects.count() == 0


# --- headers, CSP, media ---------------------------------------------------------------------------

def test_every_response_carries_the_security_headers_and_the_csp(viewer, cell):
    web = Client()
    web.force_login(viewer)
    for url in ("/accounts/login/", "/", f"/cells/{cell.pk}/", "/compare/", "/api/v1/cells/", "/healthz",
                "/does-not-exist/"):
        resp = web.get(url)
        assert resp["Content-Security-Policy"].startswith(CSP), url
        assert resp["X-Frame-Options"] == "DENY" and resp["X-Content-Type-Options"] == "nosniff"
        assert resp["Referrer-Policy"] == "same-origin" and resp["Cross-Origin-Opener-Policy"] == "same-origin"
        assert "camera=()" in resp["Permissions-Policy"]


def test_pages_have_no_inline_script_that_the_csp_would_block(viewer, cell, imported):
    web = Client()
    web.force_login(viewer)
    for url in ("/accounts/login/", "/", f"/cells/{cell.pk}/", "/compare/"):
        html = web.get(url).content.decode()
        # Data islands (json_script, type="application/json") are not executed, so the CSP allows them.
        assert not re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", html), url
        assert not re.search(r"\son[a-z]+\s*=", html), url  # no inline event handlers either
        assert "javascript:" not in html


def test_the_swagger_page_allows_exactly_its_own_inline_script_by_hash(settings):
    import base64
    import hashlib

    settings.ASSB_API_DOCS_PUBLIC = True  # read anonymously (behind login is the production default)
    resp = Client().get("/api/docs/")
    scripts = re.findall(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", resp.content, re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0]).digest()).decode()
    policy = resp["Content-Security-Policy"]
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src"))
    assert script_src == f"script-src 'self' 'sha256-{digest}'"
    assert "'unsafe-inline'" not in script_src and "object-src 'none'" in policy


def test_uploaded_files_are_never_served_from_a_public_path(lab_admin, viewer, outsider, device_api, imported):
    admin = Client()
    admin.force_login(lab_admin)
    for name in (imported.file.name, imported.records_file):
        assert admin.get(f"/media/{name}").status_code == 404
        assert admin.get(f"/static/../var/test/media/{name}").status_code == 404
    url = f"/api/v1/datafiles/{imported.pk}/download/"
    assert APIClient().get(url).status_code == 401
    assert device_api.get(url).status_code == 403
    assert client_for(outsider).get(url).status_code == 404
    resp = client_for(viewer).get(url)
    assert resp.status_code == 200 and "attachment" in resp["Content-Disposition"]
    assert b"".join(resp.streaming_content) == imported.file.open("rb").read()


# --- secrets --------------------------------------------------------------------------------------

_SECRET_PATTERNS = {
    "private key": "-----BEGIN " + r"(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY",
    "AWS access key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "GitHub token": r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",
    "Slack token": r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    "Google API key": r"\bAIza[0-9A-Za-z_\-]{35}\b",
    "Stripe/OpenAI style key": r"\b(?:sk_live|sk-proj|sk-ant)-?[A-Za-z0-9_\-]{20,}",
    "hard-coded SECRET_KEY": r"SECRET_KEY\s*=\s*['\"][^'\"]{20,}['\"]",
    "password in a URL": r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s@'\"{}$]{3,}@",
    "DRF token in a header": r"Authorization['\"]?\s*[:=]\s*['\"]Token [0-9a-f]{40}['\"]",
}


def test_no_secrets_are_tracked_in_the_repository():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    found = []
    for name in filter(None, (f.decode() for f in files)):
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_bytes()
        if b"\0" in text[:8000]:
            continue  # binary (workbooks, images)
        text = text.decode("utf-8", errors="replace")
        for what, pattern in _SECRET_PATTERNS.items():
            for match in re.finditer(pattern, text):
                found.append(f"{name}: {what}: {match.group(0)[:40]}")
    assert not found, "\n".join(found)
    tracked = {f.decode() for f in files}
    assert not {"var/secret_key", ".env"} & tracked and not any(f.endswith((".pem", ".key")) for f in tracked)


# --- audit ------------------------------------------------------------------------------------------

def test_the_audit_log_records_upload_reprocess_edit_and_delete_with_who(researcher, lab_admin, device, device_api,
                                                                        cell, export_bytes):
    resp = post_datafile(device_api, cell, export_bytes)
    datafile_id = resp.json()["id"]
    researcher_api = client_for(researcher)
    assert researcher_api.post(f"/api/v1/datafiles/{datafile_id}/reprocess/").status_code == 202
    assert researcher_api.patch(f"/api/v1/cells/{cell.pk}/", {"notes": "re-pressed"}, format="json").status_code == 200
    assert researcher_api.delete(f"/api/v1/datafiles/{datafile_id}/").status_code == 204
    admin_api = client_for(lab_admin)
    assert admin_api.delete(f"/api/v1/cells/{cell.pk}/").status_code == 204

    def event(action, object_type, object_id):
        return AuditEvent.objects.get(action=action, object_type=object_type, object_id=str(object_id))

    upload = event("upload", "cycling.datafile", datafile_id)
    assert upload.device == device and upload.user is None and upload.detail["sha256"]
    assert event("reprocess", "cycling.datafile", datafile_id).user == researcher
    edit = event("update", "cells.cell", cell.pk)
    assert edit.user == researcher and list(edit.detail["changes"]) == ["notes"]
    assert edit.detail["changes"]["notes"][1] == "re-pressed"
    assert event("delete", "cycling.datafile", datafile_id).user == researcher
    assert event("delete", "cells.cell", cell.pk).user == lab_admin


def test_a_project_of_its_own_keeps_other_cells_apart():
    """Sanity of the fixtures above: two projects, two cells, each visible to its own members only."""
    from cells.selectors import cells_visible_to

    a, b = ProjectFactory(name="A"), ProjectFactory(name="B")
    ca, cb = CellFactory(project=a, name="A-1"), CellFactory(project=b, name="B-1")
    user = UserFactory(username="member-a")
    a.members.add(user)
    assert list(cells_visible_to(user)) == [ca] and cb not in cells_visible_to(user)


def test_restrict_is_the_one_scoping_rule_for_every_scoped_model():
    """Model.objects.restrict(user, action): members see their project's rows, devices their registered
    projects, staff everything, anonymous nothing; an action other than view also needs the model permission."""
    from django.contrib.auth.models import AnonymousUser

    from cells.auth import DevicePrincipal
    from cells.models import Cell, CellGroup, Project
    from cells.roles import RESEARCHER, VIEWER
    from cycling.models import DataFile
    from tests.factories import DeviceFactory

    a, b = ProjectFactory(name="A"), ProjectFactory(name="B")
    ca, cb = CellFactory(project=a, name="A-1"), CellFactory(project=b, name="B-1")
    fa = DataFile.objects.create(cell=ca, kind="cycling", original_name="a.xlsx", size_bytes=1, sha256="a" * 64)
    DataFile.objects.create(cell=cb, kind="cycling", original_name="b.xlsx", size_bytes=1, sha256="b" * 64)
    viewer = UserFactory(username="viewer-a", roles=[VIEWER])
    researcher = UserFactory(username="researcher-a", roles=[RESEARCHER])
    for user in (viewer, researcher):
        a.members.add(user)
    registered = DeviceFactory()
    registered.projects.add(b)
    device = DevicePrincipal(registered)
    staff = UserFactory(username="staff", is_staff=True)

    assert list(Project.objects.restrict(viewer)) == [a]
    assert list(Cell.objects.restrict(viewer)) == [ca]
    assert list(CellGroup.objects.restrict(viewer)) == [ca.group]
    assert list(DataFile.objects.restrict(viewer)) == [fa]
    assert list(Cell.objects.restrict(device).values_list("name", flat=True)) == ["B-1"]
    assert Cell.objects.restrict(staff).count() == 2
    assert Cell.objects.restrict(AnonymousUser()).count() == 0
    # Chainable, and the action counts: a viewer may not change a cell, a researcher of the project may.
    assert list(Cell.objects.filter(name__startswith="A").restrict(researcher, "change")) == [ca]
    assert Cell.objects.restrict(viewer, "change").count() == 0
