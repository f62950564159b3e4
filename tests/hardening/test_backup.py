"""Backup and restore: ingest, back up, wipe the database and the storage, restore, and get the same
per-cycle numbers, run metrics and curves; a damaged backup is refused before anything is touched."""
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cells.models import Cell
from cycling.models import CycleSummary, DataFile
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.helpers import ingest
from tests.landfiles import study_export

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media(settings, tmp_path):
    """A storage folder of this test's own (the restore wipes it)."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}}}
    return root


def _views(cell_id):
    api = client_for(UserFactory._meta.model.objects.get(username="boss"))
    cycles = api.get(f"/api/v1/cells/{cell_id}/cycles/")
    summary = api.get(f"/api/v1/compare/summary/?cells={cell_id}")
    curves = api.get(f"/api/v1/cells/{cell_id}/curves/?cycles=1,last&points=100")
    assert cycles.status_code == summary.status_code == curves.status_code == 200
    return {"cycles": cycles.json(), "summary": summary.json(), "curves": curves.json()}


def _ingest(cell):
    datafile = ingest(cell, study_export("coated", n_cycles=12, points=30)[0], "LNTO-01.xlsx")
    assert datafile.status == "imported" and datafile.records_file
    return datafile


def test_it_restores_the_same_numbers_after_losing_database_and_files(cell, media, tmp_path):
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    datafile = _ingest(cell)
    before = _views(cell.pk)
    assert len(before["cycles"]) == 12 and before["cycles"][0]["discharge_mah_g"] == pytest.approx(161.4, rel=1e-3)

    call_command("backup", str(tmp_path / "bk"))
    manifest = (tmp_path / "bk" / "manifest.json").read_text()
    from django.db import connection

    # pg_dump's custom format on PostgreSQL (the production path), dumpdata JSON on SQLite.
    db_file = "db.pgdump" if connection.vendor == "postgresql" else "db.json.gz"
    assert db_file in manifest and datafile.file.name in manifest and datafile.records_file in manifest

    # Disaster: every row and every stored file is gone.
    call_command("flush", interactive=False, verbosity=0)
    shutil.rmtree(media)
    media.mkdir()
    assert not Cell.objects.exists() and not any(media.iterdir())

    call_command("restore", str(tmp_path / "bk"), interactive=False)
    assert DataFile.objects.get(pk=datafile.pk).status == "imported"
    assert CycleSummary.objects.filter(cell_id=cell.pk).count() == 12
    assert (media / datafile.file.name).is_file() and (media / datafile.records_file).is_file()
    assert _views(cell.pk) == before


def test_it_refuses_a_damaged_backup_before_touching_anything(cell, media, tmp_path):
    datafile = _ingest(cell)
    call_command("backup", str(tmp_path / "bk"))
    stored = Path(tmp_path / "bk" / "media" / datafile.file.name)
    stored.write_bytes(stored.read_bytes()[:-1] + b"!")
    with pytest.raises(CommandError, match="damaged"):
        call_command("restore", str(tmp_path / "bk"), interactive=False)
    assert DataFile.objects.filter(pk=datafile.pk).exists()  # nothing was replaced
    with pytest.raises(CommandError, match="not empty"):
        call_command("backup", str(tmp_path / "bk"))
