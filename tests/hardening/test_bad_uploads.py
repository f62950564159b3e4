"""Bad uploads through POST /api/v1/datafiles/ and the in-process ingest: each one is answered clearly
(an API status and a message naming the problem, or FAILED with the parser's reason), leaves no cycle
rows, and does not disturb a good file of the same cell imported before it."""
import io
import socket
import time
from functools import cache

import pytest
from django.core.files.storage import default_storage
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from cycling import services
from cycling.models import CycleSummary, DataFile
from cycling.parsers import ParseError, read_land
from tests.factories import CellFactory, ProjectFactory
from tests.fuzz import BYTE_EDITS, mutate
from tests.hardening import badfiles
from tests.helpers import post_datafile
from tests.landfiles import study_export

pytestmark = pytest.mark.django_db

# Case id -> where it is stopped and a phrase the answer must contain.
# ("api", status) is refused by the upload endpoint; "failed" is stored (202) and the ingest fails it.
EXPECT = {
    "empty": (("api", 400), "empty"),
    # Text that no reader recognises is refused at upload (a note or a logger file is not an export).
    "whitespace-only": (("api", 415), "blank.csv: the file is text with no record table of a cycler"),
    "zero-row-sheet": ("failed", "no record table with data"),
    "no-land-sheet": ("failed", "no LAND table found"),
    "header-only": ("failed", "header but no data rows"),
    "truncated-xlsx": ("failed", "damaged or truncated"),
    "corrupt-zip": ("failed", "cannot be read"),
    "zip-bomb-declared-4gib": ("failed", "would unpack to 4.0 GiB"),
    "zip-bomb-ratio": ("failed", "zip bomb"),
    "password-protected": ("failed", "password-protected"),
    "html-as-xlsx": (("api", 415), "HTML page"),
    "png": (("api", 415), "PNG image"),
    "pdf": (("api", 415), "PDF document"),
    "random-binary": (("api", 415), "binary data"),
    "csv-of-something-else": (("api", 415), "no reader recognises it: a note or a log?). Looked for: LAND ("),
    # Other cyclers' files are read now (tests/cycling/test_ingest_cyclers.py); these are broken ones.
    "arbin": ("failed", "no discharge capacity column"),
    "biologic-mpt": ("failed", "should name the columns"),
    "biologic-mpr": (("api", 415), "BioLogic .mpr"),
    "maccor": ("failed", "row 4, column 'Volts': 'abc' is not a number"),
    "no-voltage-column": ("failed", "no voltage column"),
    "text-in-current": ("failed", "'abc' is not a number"),
    "nan-current": ("failed", "current value is missing"),
    "inf-voltage": ("failed", "voltage value is infinite"),
    "missing-current": ("failed", "current value is missing"),
    "record-number-twice": ("failed", "appears twice"),
    "time-backwards": ("failed", "test time goes backwards"),
    "garbled-units": ("failed", "is not a unit of current"),
    "no-current-unit": ("failed", "gives no unit"),
}

CYCLE_COLUMNS = ["cycle", "charge_mah", "discharge_mah", "charge_mah_g", "discharge_mah_g", "ce_percent"]


@cache
def cases():
    return badfiles.cases()


@cache
def good_bytes():
    return study_export("coated", n_cycles=4, points=20)[0]



@pytest.fixture
def good(device_api, cell):
    """A good export of the cell, imported first; returns a snapshot to compare with afterwards."""
    resp = post_datafile(device_api, cell.name, good_bytes(), "good.xlsx")
    assert resp.status_code == 202, resp.content
    datafile_id = resp.json()["id"]
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    return datafile_id, _snapshot(datafile_id)


def _snapshot(datafile_id):
    datafile = DataFile.objects.get(pk=datafile_id)
    rows = list(CycleSummary.objects.filter(datafile_id=datafile_id).order_by("cycle").values_list(*CYCLE_COLUMNS))
    return {"status": datafile.status, "n_records": datafile.n_records, "n_cycles": datafile.n_cycles,
            "records_file": datafile.records_file, "rows": rows}


def assert_untouched(good):
    datafile_id, before = good
    assert _snapshot(datafile_id) == before
    assert len(before["rows"]) == 4
    assert default_storage.exists(before["records_file"])


def test_the_list_covers_at_least_25_kinds_of_bad_upload():
    assert set(EXPECT) == set(cases()) and len(EXPECT) >= 25


@pytest.mark.parametrize("case", list(EXPECT))
def test_it_answers_a_bad_upload_clearly_and_disturbs_nothing(case, device_api, cell, good):
    data, name = cases()[case]
    where, phrase = EXPECT[case]
    resp = post_datafile(device_api, cell.name, data, name)
    if where != "failed":
        assert resp.status_code == where[1], resp.content
        assert phrase.lower() in str(resp.json()).lower()
        if where[1] == 415:  # the refusal names the file once ("X.csv: the file is ...")
            assert str(resp.json()).count(name) == 1, resp.json()
        assert DataFile.objects.filter(cell=cell).count() == 1  # only the good file: nothing stored
    else:
        assert resp.status_code == 202, resp.content
        datafile_id = resp.json()["id"]
        assert services.datafile_ingest(datafile_id=datafile_id) == "failed"
        datafile = DataFile.objects.get(pk=datafile_id)
        # The file named once: a reader's ParseError names it, the ingest does not put it in front again.
        assert phrase in datafile.error and datafile.error.count(name) == 1, datafile.error
        assert not CycleSummary.objects.filter(datafile=datafile).exists()
        assert datafile.records_file == "" and datafile.claim_token is None
        shown = device_api.get(f"/api/v1/datafiles/{datafile_id}/").json()
        assert shown["status"] == "failed" and phrase in shown["error"] and shown["traceback"] is None
        assert shown["error"].count(name) == 1
        # Bad data is not retried: a second run has nothing to claim and changes nothing.
        assert services.datafile_ingest(datafile_id=datafile_id) == "failed"
        assert DataFile.objects.get(pk=datafile_id).attempts == 1
    assert_untouched(good)


def test_it_imports_exact_duplicate_rows_once_with_a_warning(device_api, cell, good):
    lines = badfiles.land_csv_lines()
    doubled = "\r\n".join([*lines[:10], lines[9], lines[9], *lines[10:]]).encode()
    datafile_id = post_datafile(device_api, cell.name, doubled, "overlap.csv").json()["id"]
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    datafile = DataFile.objects.get(pk=datafile_id)
    assert datafile.n_records == len(badfiles.records())
    assert any("dropped 2 exact duplicate" in w for w in datafile.warnings)
    assert_untouched(good)


@pytest.mark.parametrize("gap", ["NaN", "-", "#NUM!"])
def test_it_imports_a_file_with_one_missing_voltage_and_one_warning_naming_file_and_row(device_api, cell, good, gap):
    datafile_id = post_datafile(device_api, cell.name, badfiles.edit_record(4, 7, gap), "gap.csv").json()["id"]
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    datafile = DataFile.objects.get(pk=datafile_id)
    assert datafile.n_records == len(badfiles.records())
    voltage = [w for w in datafile.warnings if "without a voltage" in w]
    assert len(voltage) == 1 and voltage[0].startswith("file 'gap.csv', sheet 'Record-Tab section' row 6:"), voltage
    assert CycleSummary.objects.filter(datafile=datafile).count() == datafile.n_cycles > 0
    assert_untouched(good)


def test_it_imports_a_cycle_index_jump_with_a_warning_naming_it(device_api, cell, good):
    datafile_id = post_datafile(device_api, cell.name, badfiles.cycle_jump(), "jump.xlsx").json()["id"]
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    datafile = DataFile.objects.get(pk=datafile_id)
    assert any("Cycle-Index jumps from 1 to 7" in w for w in datafile.warnings), datafile.warnings
    assert sorted(CycleSummary.objects.filter(datafile=datafile).values_list("cycle", flat=True))[:2] == [1, 7]
    assert_untouched(good)


# --- size limits --------------------------------------------------------------------------------

def _stored_uploads() -> int:
    root = default_storage.path("datafiles")
    import os

    return sum(len(files) for _, _, files in os.walk(root)) if os.path.isdir(root) else 0


@pytest.mark.parametrize("over_by", [1_000, 500_000])  # within the multipart slack (streamed) / far over (declared)
def test_it_refuses_a_file_over_a_lowered_limit_with_413(device_api, cell, good, settings, over_by):
    settings.ASSB_UPLOAD_MAX_BYTES = 100_000  # stands in for "2 GB": the same code path, a size we can send
    stored = _stored_uploads()
    resp = post_datafile(device_api, cell.name, b"PK\x03\x04" + b"\x00" * (100_000 + over_by), "huge.xlsx")
    assert resp.status_code == 413 and "larger than the upload limit" in str(resp.json())
    assert DataFile.objects.filter(cell=cell).count() == 1 and _stored_uploads() == stored
    assert_untouched(good)


class _UnreadableBody(io.RawIOBase):
    """A request body that must never be read."""

    reads = 0

    def read(self, *args):
        _UnreadableBody.reads += 1
        raise AssertionError("the 2 GB body was read")

    readline = read


def test_it_refuses_a_declared_2_gb_body_without_reading_it(device_api, cell):
    resp = device_api.generic(
        "POST", "/api/v1/datafiles/", data=b"x", content_type="multipart/form-data; boundary=BoUnDaRy",
        CONTENT_LENGTH=str(2 * 1024**3), **{"wsgi.input": _UnreadableBody()},
    )
    assert resp.status_code == 413 and "upload limit" in str(resp.json())
    assert _UnreadableBody.reads == 0
    assert DataFile.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_real_server_answers_a_declared_2_gb_upload_with_413_at_once(live_server, device, cell):
    host, port = live_server.url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((
            "POST /api/v1/datafiles/ HTTP/1.1\r\n"
            f"Host: {host}\r\nAuthorization: Token {device.key}\r\n"
            "Content-Type: multipart/form-data; boundary=BoUnDaRy\r\n"
            f"Content-Length: {2 * 1024**3}\r\nConnection: close\r\n\r\n"
            "--BoUnDaRy\r\n"  # a few bytes of the 2 GB, then nothing more
        ).encode())
        reply = b""
        while b"upload limit" not in reply and time.monotonic() - started < 5:
            chunk = sock.recv(65536)  # the reply may arrive in pieces
            if not chunk:
                break
            reply += chunk
        reply = reply.decode(errors="replace")
    assert reply.startswith("HTTP/1.1 413"), reply[:300]
    assert "upload limit" in reply and time.monotonic() - started < 5
    assert DataFile.objects.count() == 0


# --- file names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, shown", [
    ("../../x.xlsx", "x.xlsx"),
    ("..\\..\\windows\\x.xlsx", "x.xlsx"),
    ("/etc/passwd", "passwd"),
    ("evil\u202egnp.xlsx", "evilgnp.xlsx"),  # right-to-left override would disguise the extension
    ("电池 résumé.xlsx", "电池 résumé.xlsx"),
    ("tab\there.xlsx", "tabhere.xlsx"),
    ("a" * 400 + ".xlsx", "a" * 250 + ".xlsx"),  # Django's parser keeps the extension within 255
])
def test_it_never_derives_the_stored_name_from_the_clients(device_api, cell, name, shown, tmp_path):
    data = study_export("coated", n_cycles=2, points=10, replicate=3)[0]
    resp = post_datafile(device_api, cell.name, data, name)
    assert resp.status_code == 202, resp.content
    datafile = DataFile.objects.get(pk=resp.json()["id"])
    assert datafile.original_name == shown and resp.json()["original_name"] == shown
    assert datafile.file.name == f"datafiles/{datafile.created_at:%Y/%m}/{datafile.uid}.bin"
    assert default_storage.open(datafile.file.name).read() == data


def test_it_escapes_a_hostile_display_name_on_the_cell_page(device_api, cell, researcher, client):
    data = study_export("coated", n_cycles=2, points=10, replicate=4)[0]
    post_datafile(device_api, cell.name, data, '<img src=x onerror="alert(1)">.xlsx')
    client.force_login(researcher)
    page = client.get(f"/cells/{cell.pk}/").content.decode()
    assert "<img src=x onerror" not in page and "&lt;img src=x onerror" in page


# --- cells ----------------------------------------------------------------------------------------

def test_it_names_an_unknown_cell_by_id_or_name(device_api, cell):
    for ref in ("999999", "NOPE-99"):
        resp = post_datafile(device_api, ref, good_bytes(), "x.xlsx")
        assert resp.status_code == 400 and f"No cell '{ref}' that you may upload to." in str(resp.json())
    assert DataFile.objects.count() == 0


def test_it_answers_for_another_projects_cell_exactly_as_for_a_missing_one(device_api, api, cell):
    hidden = CellFactory(project=ProjectFactory(name="Secret project"), name="SECRET-01")
    for client in (device_api, api):
        for ref in (str(hidden.pk), hidden.name):
            resp = post_datafile(client, ref, good_bytes(), "x.xlsx")
            missing = post_datafile(client, "999999" if ref.isdigit() else "NOPE-99", good_bytes(), "x.xlsx")
            assert resp.status_code == missing.status_code == 400
            assert resp.json() == {"cell": [f"No cell '{ref}' that you may upload to."]}
            assert "Secret" not in str(resp.json())
    assert not DataFile.objects.filter(cell=hidden).exists()


# --- fuzzing ----------------------------------------------------------------------------------------

@cache
def _seed_exports() -> list[tuple[bytes, str]]:
    csv = "\r\n".join(badfiles.land_csv_lines()[:60]).encode()
    return [(csv, "seed.csv"), (badfiles.xlsx(badfiles.records().iloc[:40], cycle_table=False), "seed.xlsx")]


@fuzz_settings(max_examples=120, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 1), edits=BYTE_EDITS)
def test_read_land_gives_a_frame_or_a_parse_error_for_mutated_exports(which, edits):
    data, name = _seed_exports()[which]
    try:
        export = read_land(io.BytesIO(mutate(data, edits)), name=name)
    except ParseError as exc:
        assert name in str(exc)
        return
    assert len(export.records) > 0 and export.records["test_time_s"].is_monotonic_increasing


@fuzz_settings(max_examples=60, deadline=3000)
@given(raw=st.binary(max_size=3000))
def test_read_land_gives_a_frame_or_a_parse_error_for_random_bytes(raw):
    try:
        read_land(io.BytesIO(raw), name="fuzz.xlsx")
    except ParseError:
        pass


@cache
def _eis_seeds() -> list[tuple[bytes, str]]:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "data" / "eis"
    return [(p.read_bytes()[:6000], p.name) for p in sorted(root.iterdir()) if p.suffix != ".md"]


@fuzz_settings(max_examples=150, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 5), edits=BYTE_EDITS)
def test_read_eis_gives_a_spectrum_or_a_parse_error_for_mutated_files(which, edits):
    from impedance.parsers import ParseError as EisParseError
    from impedance.parsers import read_eis

    data, name = _eis_seeds()[which % len(_eis_seeds())]
    try:
        spectrum = read_eis(io.BytesIO(mutate(data, edits)), name=name)
    except EisParseError:
        return
    assert len(spectrum.freq_hz) > 0
