"""The upload pre-check (cycling.sniff.refuse_reason, one signature table with the readers): every supported
cycler format passes, what nobody reads is answered 415 with what to do instead."""

import io
import zipfile
from pathlib import Path

import pytest

from cycling.models import DataFile
from cycling.sniff import refuse_reason
from tests.landfiles import upload_file

CYCLERS = Path(__file__).resolve().parents[1] / "data" / "cyclers"
SAMPLES = sorted(p for p in CYCLERS.rglob("*") if p.is_file() and p.suffix != ".md")


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def test_there_are_samples_of_every_instrument():
    assert {p.parent.name for p in SAMPLES} == {"arbin", "bdf", "biologic", "maccor", "neware"}


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_it_lets_every_supported_sample_through(path):
    assert refuse_reason(path.read_bytes()[:4096]) is None


@pytest.mark.parametrize(("head", "phrases"), [
    (docx(), ["Word document", "neither an Excel workbook nor a Neware .ndax"]),
    (b"BIO-LOGIC MODULAR FILE\x1a" + b" " * 100, ["BioLogic .mpr", ".mpt"]),
    (b"%PDF-1.7\n", ["PDF document"]),
])
def test_it_refuses_what_no_reader_reads_and_says_what_to_do(head, phrases):
    reason = refuse_reason(head[:4096])
    assert reason is not None and all(p in reason for p in phrases), reason


def _upload(client, cell, data, name):
    return client.post("/api/v1/datafiles/", {"file": upload_file(data, name), "cell": cell.name}, format="multipart")


@pytest.mark.django_db
@pytest.mark.parametrize("sample", ["arbin/navani__bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx",
                                    "neware/navani__test.ndax", "maccor/beep__maccor_test_file_4267-66-6519.041"])
def test_the_api_accepts_other_cyclers_exports(device_api, cell, sample):
    path = CYCLERS / sample
    resp = _upload(device_api, cell, path.read_bytes(), path.name)
    assert resp.status_code == 202, resp.content


@pytest.mark.django_db
def test_the_api_answers_a_renamed_word_document_with_415(device_api, cell):
    resp = _upload(device_api, cell, docx(), "LNTO-01_ch3.xlsx")
    assert resp.status_code == 415 and "Word document" in str(resp.json())
    assert DataFile.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["cycling", "eis"])
def test_the_api_refuses_an_eclab_mpr_with_415_saying_it_is_not_read_and_to_export_the_mpt(api, cell, kind):
    mpr = b"BIO-LOGIC MODULAR FILE\x1a" + b" " * 31 + b"\x00\x00\x01\x00" + bytes(range(256)) * 8
    resp = _upload_kind(api, cell, mpr, "GCPL_C01.mpr", kind)
    assert resp.status_code == 415
    assert resp.json() == {"file": [
        "GCPL_C01.mpr: the file is a BioLogic .mpr file (EC-Lab's binary format), which this system does not read: "
        "no reader of it under a licence this project can ship exists (galvani, yadg and eclabfiles are GPL). In "
        "EC-Lab, export the data as text (Export as Text, .mpt) and upload that."]}
    assert DataFile.objects.count() == 0


def _upload_kind(client, cell, data, name, kind):
    return client.post("/api/v1/datafiles/", {"file": upload_file(data, name), "cell": cell.name, "kind": kind},
                       format="multipart")


@pytest.mark.django_db
def test_manage_py_ingest_stores_every_cyclers_files(tmp_path, cell):
    from django.core.management import call_command

    folder = tmp_path / "rack"
    folder.mkdir()
    for sample in ("neware/navani__test.nda", "neware/navani__test.ndax", "maccor/beep__maccor_test_file_4267-66-6519.041",
                   "biologic/PyProBE__Sample_data_biologic_no_header.mpt", "arbin/beep__FastCharge_000025_CH8.csv"):
        (folder / Path(sample).name).write_bytes((CYCLERS / sample).read_bytes())
    (folder / "run.mpr").write_bytes(b"BIO-LOGIC MODULAR FILE\x1a" + b" " * 64)
    out = io.StringIO()
    call_command("ingest", str(folder), "--cell", cell.name, stdout=out)
    names = set(DataFile.objects.values_list("original_name", flat=True))
    assert names == {"navani__test.nda", "navani__test.ndax", "beep__maccor_test_file_4267-66-6519.041",
                     "PyProBE__Sample_data_biologic_no_header.mpt", "beep__FastCharge_000025_CH8.csv"}
    assert ".mpt" in out.getvalue()  # the .mpr is refused with the request for the text export


NOTES = b"Notes LNTO-04\r\nAssembled 3 March, pressed at 3.5 t.\r\nVoltage looked fine, current 0.1 mA.\r\n"
LAND_DIR = Path(__file__).resolve().parents[1] / "data" / "land"
EIS_DIR = Path(__file__).resolve().parents[1] / "data" / "eis"


def test_it_refuses_a_notes_text_that_no_reader_recognises():
    reason = refuse_reason(NOTES)
    assert reason.startswith("the file is text with no record table of a cycler")
    assert "LAND (a record section" in reason and "Maccor (" in reason


def test_it_lets_a_land_text_table_through_in_utf8_utf16_and_gbk():
    header = "Record\tTestTime/Sec\t电压/V\tCurrent/mA\tCapacity/mAh\n1\t0\t3.1\t0.1\t0\n"
    assert refuse_reason(("LAND export\n" * 20 + header).encode("utf-8")) is None
    assert refuse_reason(header.encode("utf-16")) is None
    assert refuse_reason(header.encode("gbk")) is None
    assert refuse_reason((LAND_DIR / "cellpy_custom_data_002.cycle_tab.csv").read_bytes()[:65536]) is None


def test_it_leaves_eis_text_to_the_eis_readers():
    data = (EIS_DIR / "impedancepy_exampleDataCHInstruments.txt").read_bytes()[:65536]
    assert refuse_reason(data, kind="eis") is None
    assert refuse_reason(data, kind="cycling") is not None


@pytest.mark.django_db
def test_the_api_answers_a_stray_notes_txt_with_415(device_api, cell):
    resp = _upload(device_api, cell, NOTES, "notes.txt")
    assert resp.status_code == 415
    assert resp.json()["file"][0].startswith("notes.txt: the file is text with no record table of a cycler")
    assert DataFile.objects.count() == 0
    maccor = CYCLERS / "maccor" / "cellpy__maccor_001_first1500.txt"
    assert _upload(device_api, cell, maccor.read_bytes(), maccor.name).status_code == 202


@pytest.mark.django_db
def test_the_api_takes_an_eis_text_declared_as_eis(device_api, cell):
    data = (EIS_DIR / "impedancepy_exampleDataCHInstruments.txt").read_bytes()
    resp = device_api.post("/api/v1/datafiles/", {"file": upload_file(data, "eis.txt"), "cell": cell.name,
                                                  "kind": "eis"}, format="multipart")
    assert resp.status_code == 202, resp.content


def test_it_lets_a_numeric_table_in_an_unknown_layout_through_for_a_format_profile():
    from tests.profilefiles import german_export

    data, _ = german_export(1, n_cycles=1)
    assert refuse_reason(data[:65536]) is None  # stored; its ingest refusal links to the format-profile form
    # prose, a logger's timestamp/value rows and a short numeric fragment stay refused at upload
    assert refuse_reason(b"a;b;c\n1;2\n3;4;5\n6;7;8\n9;10;11\n12;13;14\n") is not None
    assert refuse_reason(b"t,T,RH\n" + b"2024-01-01T00:00:00,21.5,40\n" * 10) is not None
