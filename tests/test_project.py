"""Project-level behaviour: settings from the environment, deploy checks, schema, health."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def production_env(**overrides):
    """The environment of a real deployment: the app's own settings, no test overrides."""
    env = {k: v for k, v in os.environ.items() if k not in {"ASSB_HTTPS", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    return {**env, "DJANGO_SETTINGS_MODULE": "assb_lab.settings", **overrides}


def _manage(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=cwd, env=env or production_env(),
                          capture_output=True, text=True)


def test_it_passes_check_deploy_with_production_settings(tmp_path):
    env = production_env(
        DEBUG="0", SECRET_KEY="k3y-" + "x" * 60 + "-production-like-key-for-the-check",
        ALLOWED_HOSTS="lab.example.org", ASSB_VAR_DIR=str(tmp_path),
    )
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_generates_a_secret_key_once_under_var(tmp_path):
    env = production_env(ASSB_VAR_DIR=str(tmp_path))
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    first = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    second = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    key = (tmp_path / "secret_key").read_text().strip()
    assert len(key) >= 50 and first.stdout.strip() == second.stdout.strip() == key
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"


def test_it_keeps_secrets_and_local_state_out_of_git():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "var/" in ignored and ".venv/" in ignored


def test_it_uses_wal_mode_on_the_embedded_sqlite_database(tmp_path):
    env = production_env(ASSB_VAR_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    code = ("import django; django.setup(); from django.db import connection; c = connection.cursor(); "
            "c.execute('PRAGMA journal_mode'); print(connection.vendor, c.fetchone()[0])")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.stdout.split() == ["sqlite", "wal"], result.stderr
    assert (tmp_path / "db.sqlite3").exists()


def test_it_generates_the_openapi_schema_without_warnings(tmp_path):
    result = _manage("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert result.returncode == 0, result.stderr
    schema = (tmp_path / "schema.yaml").read_text()
    assert "/api/v1/cells/" in schema


@pytest.mark.django_db
def test_it_serves_the_api_docs_from_local_static_files(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="doc-reader"))
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page and "cdn" not in page.lower()


@pytest.mark.django_db
def test_it_answers_the_health_check(client):
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.django_db
def test_it_sends_anonymous_browsers_to_the_login_page(client):
    resp = client.get("/")
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")
