"""Who may read the API schema and docs: ASSB_API_DOCS_PUBLIC, by default public only with DEBUG on."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
PAGES = ["/api/docs/", "/api/redoc/"]


def test_it_keeps_schema_and_docs_behind_login_when_not_public(settings):
    settings.ASSB_API_DOCS_PUBLIC = False
    assert APIClient().get("/api/schema/").status_code == 401
    for url in PAGES:
        resp = Client().get(url)
        assert resp.status_code == 302 and resp["Location"] == f"/accounts/login/?next={url}"
    web = Client()
    web.force_login(UserFactory(username="reader"))
    assert web.get("/api/schema/").status_code == 200
    assert all(web.get(url).status_code == 200 for url in PAGES)


def test_it_serves_them_to_anyone_when_the_lab_makes_them_public(settings):
    settings.ASSB_API_DOCS_PUBLIC = True
    assert APIClient().get("/api/schema/").status_code == 200
    assert all(Client().get(url).status_code == 200 for url in PAGES)


@pytest.mark.parametrize("env, expected", [
    ({"DEBUG": "0"}, "False"), ({"DEBUG": "1"}, "True"),
    ({"DEBUG": "0", "ASSB_API_DOCS_PUBLIC": "1"}, "True"), ({"DEBUG": "1", "ASSB_API_DOCS_PUBLIC": "0"}, "False"),
])
def test_it_defaults_to_behind_login_in_production(tmp_path, env, expected):
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "ASSB_API_DOCS_PUBLIC")}
    out = subprocess.run(
        [sys.executable, "-c", "import assb_lab.settings as s; print(s.ASSB_API_DOCS_PUBLIC)"],
        cwd=ROOT, env={**clean, **env, "ASSB_VAR_DIR": str(tmp_path)}, capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == expected
