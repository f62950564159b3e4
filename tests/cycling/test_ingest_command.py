"""`manage.py ingest`: bulk import of a folder of old exports into one cell."""
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cells.models import AuditEvent
from cycling.models import CycleSummary, DataFile
from tests.integration.conftest import start_worker, worker_env  # noqa: F401  (fixtures)
from tests.landfiles import CUT_EXPORT, CUT_EXPORT_REASON, study_export

ROOT = Path(__file__).resolve().parents[2]



@pytest.fixture(scope="module")
def exports():
    return [study_export("coated", n_cycles=4, points=20, replicate=k + 1)[0] for k in range(3)]


@pytest.fixture
def folder(tmp_path, exports):
    """3 good exports, a copy of the first under another name, a cut export (fails at ingest), a lock file, and a subfolder."""
    root = tmp_path / "old-exports"
    root.mkdir()
    for k, data in enumerate(exports):
        (root / f"LNTO-01_ch{k + 1}.xlsx").write_bytes(data)
    (root / "LNTO-01_ch1 - copy.xlsx").write_bytes(exports[0])
    (root / "LNTO-01_cut.csv").write_bytes(CUT_EXPORT)
    (root / "~$LNTO-01_ch1.xlsx").write_bytes(b"excel lock file")
    (root / "older").mkdir()
    (root / "older" / "LNTO-01_ch9.xlsx").write_bytes(study_export("coated", n_cycles=3, points=15, replicate=9)[0])
    return root


def ingest(*args):
    out = StringIO()
    call_command("ingest", *map(str, args), stdout=out)
    return out.getvalue()


def test_it_imports_a_folder_here_and_counts_imported_duplicate_failed(folder, cell):
    out = ingest(folder, "--cell", "LNTO-01", "--now")
    assert "Summary: 3 imported, 1 duplicate, 1 failed (of 5 files)" in out
    assert "[##############################] 5/5" in out  # the progress bar reached the end
    assert CUT_EXPORT_REASON in out  # the parser's reason is shown for the failed file
    assert "same bytes as data file" in out
    statuses = sorted(DataFile.objects.filter(cell=cell).values_list("status", flat=True))
    assert statuses == ["failed", "imported", "imported", "imported"]
    assert CycleSummary.objects.filter(cell=cell).count() == 3 * 4
    # Done by the system: the audit log records no user and no device.
    uploads = AuditEvent.objects.filter(action="upload")
    assert uploads.count() == 4 and not uploads.filter(user__isnull=False).exists()
    assert not uploads.filter(device__isnull=False).exists()


def test_a_second_run_finds_only_duplicates(folder, cell):
    ingest(folder, "--cell", "LNTO-01", "--now")
    out = ingest(folder, "--cell", str(cell.pk), "--now")
    assert "Summary: 5 duplicate (of 5 files)" in out
    assert DataFile.objects.count() == 4


def test_recursive_and_include_choose_the_files(folder, cell):
    out = ingest(folder, "--cell", "LNTO-01", "--recursive", "--include", "*.xlsx")
    assert "Summary: 4 queued, 1 duplicate (of 5 files)" in out
    assert DataFile.objects.filter(status="pending").count() == 4


def test_it_refuses_what_is_clearly_not_an_export_without_storing_it(tmp_path, cell):
    (tmp_path / "report.xlsx").write_bytes(b"%PDF-1.7 ...")
    out = ingest(tmp_path / "report.xlsx", "--cell", "LNTO-01", "--now")
    assert "Summary: 1 failed (of 1 files)" in out and "PDF" in out
    assert not DataFile.objects.exists()


def test_an_unknown_cell_or_path_is_an_error(folder, cell):
    with pytest.raises(CommandError, match="No cell named 'NOPE'"):
        ingest(folder, "--cell", "NOPE")
    with pytest.raises(CommandError, match="no such file or folder"):
        ingest(folder / "missing", "--cell", "LNTO-01")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_wait_follows_a_real_worker_to_the_end(folder, cell, start_worker):  # noqa: F811
    start_worker()
    out = ingest(folder, "--cell", "LNTO-01", "--wait", "--timeout", "180")
    assert "Summary: 3 imported, 1 duplicate, 1 failed (of 5 files)" in out
