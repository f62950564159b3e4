"""The folder uploader against the real server (live_server, device token, a temp watch folder)."""
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cycling.models import DataFile
from tests.factories import CellFactory
from tests.landfiles import study_export

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "clients" / "uploader" / "assb_uploader.py"

_spec = importlib.util.spec_from_file_location("assb_uploader", SCRIPT)
up = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(up)


@pytest.fixture(scope="module")
def exports():
    """Distinct small LAND workbooks (bytes), made once for the module."""
    return [study_export("coated", n_cycles=3, points=15, replicate=k + 1)[0] for k in range(4)]


@pytest.fixture
def eager_ingest():
    """Run the ingest inside the server's request (no worker), so statuses reach imported/failed."""
    from assb_lab.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def watch(tmp_path):
    path = tmp_path / "export"
    path.mkdir()
    return path


@pytest.fixture
def make_uploader(live_server, device, watch, tmp_path, eager_ingest):
    sleeps = []

    def make(server=None, token=None, mapping=None, **kw):
        state = up.State(tmp_path / "state" / "state.json")
        uploader = up.Uploader(server or live_server.url, token or device.key, watch, state, mapping,
                               sleep=sleeps.append, **kw)
        uploader.sleeps = sleeps
        uploader.requests = []
        original = uploader.session.request

        def counting(method, url, **kwargs):
            uploader.requests.append((method, url))
            return original(method, url, **kwargs)

        uploader.session.request = counting
        return uploader

    return make


def posts(uploader):
    return [r for r in uploader.requests if r[0] == "POST"]


def write(path: Path, data: bytes, mtime: float = 1_600_000_000.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def saved_state(uploader):
    return json.loads(uploader.state.path.read_text())


def test_it_uploads_a_new_file_once_after_it_held_still(make_uploader, watch, cell, exports):
    write(watch / "LNTO-01_ch3_2021-03-01.xlsx", exports[0])
    uploader = make_uploader()
    assert uploader.poll()["waiting"] == 1 and not posts(uploader)  # first sight: may still be written
    assert uploader.poll()["uploaded"] == 1
    datafile = DataFile.objects.get()
    assert datafile.cell == cell and datafile.device.key == uploader.session.headers["Authorization"][6:]
    assert datafile.status == "imported"
    record = saved_state(uploader)["files"][str(watch / "LNTO-01_ch3_2021-03-01.xlsx")]
    assert record["datafile_id"] == datafile.pk and record["status"] == "imported"
    assert record["sha256"] == datafile.sha256 and record["size"] == len(exports[0])

    # A new process with the same state file does not send it again.
    again = make_uploader()
    again.poll()
    again.poll()
    assert not posts(again) and DataFile.objects.count() == 1


def test_it_resends_a_grown_file_only_after_it_is_stable(make_uploader, watch, cell, exports):
    path = write(watch / "LNTO-01_ch1.xlsx", exports[0])
    uploader = make_uploader()
    uploader.poll()
    uploader.poll()
    assert len(posts(uploader)) == 1
    write(path, exports[0] + b"", mtime=1_600_000_100.0)  # touched, same bytes: not resent
    uploader.poll()
    uploader.poll()
    assert len(posts(uploader)) == 1
    write(path, exports[1], mtime=1_600_000_200.0)  # the running test was exported again, larger
    assert uploader.poll()["waiting"] == 1 and len(posts(uploader)) == 1
    write(path, exports[1] + b"", mtime=1_600_000_300.0)  # still being written
    assert uploader.poll()["waiting"] == 1 and len(posts(uploader)) == 1
    assert uploader.poll()["uploaded"] == 1
    assert DataFile.objects.filter(cell=cell).count() == 2
    record = uploader.state.files[str(path)]
    assert record["sha256"] == DataFile.objects.latest("created_at").sha256


def test_it_names_the_cell_by_mapping_first_then_by_prefix(make_uploader, watch, project, cell, exports, tmp_path):
    other = CellFactory(project=project, name="LNTO-07")
    mapping = tmp_path / "mapping.csv"
    mapping.write_text("pattern,cell\n# the batch folder belongs to LNTO-07\nbatch7/*.xlsx,LNTO-07\n"
                       "*_ch9_*,LNTO-07\n", encoding="utf-8")
    write(watch / "batch7" / "run_a.xlsx", exports[0])
    write(watch / "LNTO-01_ch9_2021.xlsx", exports[1])  # the mapping wins over the prefix
    write(watch / "LNTO-01_ch3_2021.xlsx", exports[2])  # prefix rule
    write(watch / "nounderscore.xlsx", exports[3])  # no cell: skipped
    uploader = make_uploader(mapping=mapping)
    uploader.poll()
    counts = uploader.poll()
    assert counts["uploaded"] == 3
    by_name = dict(DataFile.objects.values_list("original_name", "cell__name"))
    assert by_name == {"run_a.xlsx": "LNTO-07", "LNTO-01_ch9_2021.xlsx": "LNTO-07",
                       "LNTO-01_ch3_2021.xlsx": "LNTO-01"}
    assert other.datafiles.count() == 2


def test_the_naming_rule():
    mapping = [("batch7/*.xlsx", "A"), ("*CH3*", "B")]
    assert up.cell_for("batch7/x.xlsx", mapping) == "A"
    assert up.cell_for("Batch7\\X.XLSX", mapping) == "A"
    assert up.cell_for("LNTO-01_ch3_2021-03-01.xlsx", mapping) == "B"
    assert up.cell_for("LNTO-01_ch3_2021-03-01.xlsx", []) == "LNTO-01"
    assert up.cell_for("sub/LNTO-02_x.xls", []) == "LNTO-02"
    assert up.cell_for("noprefix.xlsx", []) is None
    assert up.cell_for("_leading.xlsx", []) is None


def test_it_retries_an_unreachable_server_with_backoff_then_uploads(make_uploader, live_server, watch, cell,
                                                                   exports):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    write(watch / "LNTO-01_ch2.xlsx", exports[0])
    uploader = make_uploader(server=closed, backoff_base_s=2.0, backoff_cap_s=10.0)

    def sleep(seconds):  # the server "comes up" after the fourth wait
        uploader.sleeps.append(seconds)
        if len(uploader.sleeps) == 4:
            uploader.server = live_server.url

    uploader.sleep = sleep
    uploader.poll()
    assert uploader.poll()["uploaded"] == 1
    assert len(posts(uploader)) == 5 and DataFile.objects.filter(cell=cell).count() == 1
    steps = [2.0, 4.0, 8.0, 10.0]  # doubling, capped at 10 s, each with jitter between half and full
    assert all(step / 2 <= s <= step for s, step in zip(uploader.sleeps, steps, strict=True))


def test_it_gives_up_for_this_poll_and_tries_again_at_the_next(make_uploader, live_server, watch, cell, exports):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    write(watch / "LNTO-01_ch2.xlsx", exports[0])
    uploader = make_uploader(server=closed, max_retries=2)
    uploader.poll()
    assert uploader.poll()["unreachable"] == 1 and len(posts(uploader)) == 3
    assert not uploader.state.files  # nothing recorded as sent
    uploader.server = live_server.url
    assert uploader.poll()["uploaded"] == 1


def test_it_records_4xx_refusals_with_the_reason_and_does_not_resend(make_uploader, watch, cell, exports, caplog):
    write(watch / "NOPE-99_ch1.xlsx", exports[0])  # no such cell: 400
    write(watch / "LNTO-01_report.xlsx", b"%PDF-1.7 not an export")  # 415
    uploader = make_uploader()
    uploader.poll()
    up.log.addHandler(caplog.handler)  # main() stops it propagating to the root logger caplog listens on
    try:
        assert uploader.poll()["refused"] == 2
    finally:
        up.log.removeHandler(caplog.handler)
    said = [r.getMessage() for r in caplog.records if "NOPE-99_ch1.xlsx" in r.getMessage()]
    assert said and said[0].endswith("No cell 'NOPE-99' that you may upload to. Not resent until the file changes.")
    assert ".." not in said[0]
    said = [r.getMessage() for r in caplog.records if "LNTO-01_report.xlsx" in r.getMessage()]
    assert said and said[0].startswith("LNTO-01_report.xlsx -> cell LNTO-01: refused by the server (415): the file is a")
    assert said[0].count("LNTO-01_report.xlsx") == 1, said[0]  # the server's text names it too: said once
    assert len(posts(uploader)) == 2 and not uploader.sleeps  # 4xx is not retried
    files = {Path(k).name: v for k, v in saved_state(uploader)["files"].items()}
    assert files["NOPE-99_ch1.xlsx"]["status"] == "refused"
    assert files["NOPE-99_ch1.xlsx"]["http_status"] == 400
    assert "No cell 'NOPE-99'" in files["NOPE-99_ch1.xlsx"]["message"]
    assert files["LNTO-01_report.xlsx"]["http_status"] == 415
    assert "PDF" in files["LNTO-01_report.xlsx"]["message"]
    uploader.poll()
    uploader.poll()
    assert len(posts(uploader)) == 2 and not DataFile.objects.exists()


def test_a_bad_token_stops_with_a_clear_message(make_uploader, watch, cell, exports):
    write(watch / "LNTO-01_ch1.xlsx", exports[0])
    uploader = make_uploader(token="0" * 40)
    uploader.poll()
    with pytest.raises(up.AuthError, match="refused the token"):
        uploader.poll()
    assert len(posts(uploader)) == 1 and not uploader.sleeps


def _run_cli(live_server, token, watch, tmp_path, *extra):
    # UPLOADER_PYTHON=/path/to/python3.9 runs the script under the oldest supported Python (the lab PCs').
    cmd = [os.environ.get("UPLOADER_PYTHON", sys.executable), str(SCRIPT), "--server", live_server.url, "--token", token, "--watch", str(watch),
           "--state", str(tmp_path / "cli" / "state.json"), "--once", "--settle", "0.2", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "ASSB_TOKEN": ""})


def test_the_command_line_uploads_reports_and_logs(live_server, device, watch, cell, exports, tmp_path,
                                                   eager_ingest):
    write(watch / "LNTO-01_ch5.xlsx", exports[2])
    write(watch / "~$LNTO-01_ch5.xlsx", b"excel lock file")
    out = _run_cli(live_server, device.key, watch, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "uploaded as data file" in out.stdout and "1 uploaded" in out.stdout
    assert "imported  LNTO-01_ch5.xlsx -> LNTO-01 (id " in out.stdout
    assert DataFile.objects.get().original_name == "LNTO-01_ch5.xlsx"
    assert "uploaded as data file" in (tmp_path / "cli" / "assb_uploader.log").read_text()
    again = _run_cli(live_server, device.key, watch, tmp_path)
    assert "nothing to send" in again.stdout and DataFile.objects.count() == 1


def test_the_command_line_stops_on_401_with_exit_code_2(live_server, watch, cell, exports, tmp_path, db):
    write(watch / "LNTO-01_ch1.xlsx", exports[0])
    out = _run_cli(live_server, "f" * 40, watch, tmp_path)
    assert out.returncode == 2
    assert "refused the token (401" in out.stdout and "Stopping." in out.stdout


def test_the_multipart_body_streams_exactly_what_requests_would_send(tmp_path):
    import requests

    path = write(tmp_path / "x.bin", os.urandom(300_000))
    body = up.MultipartFile(path, {"cell": "LNTO-01", "kind": "cycling"}, "x.bin")
    streamed = b"".join(iter(lambda: body.read(7777), b""))
    body.close()
    assert len(streamed) == body.len
    prepared = requests.Request("POST", "http://x/", data=streamed,
                                headers={"Content-Type": body.content_type}).prepare()
    from email.parser import BytesParser

    message = BytesParser().parsebytes(b"Content-Type: " + body.content_type.encode() + b"\r\n\r\n" + prepared.body)
    parts = {p.get_param("name", header="content-disposition"): p.get_payload(decode=True)
             for p in message.get_payload()}
    assert parts == {"cell": b"LNTO-01", "kind": b"cycling", "file": path.read_bytes()}


def test_it_retries_5xx_and_429_honouring_retry_after(make_uploader, live_server, watch, cell, exports):
    import http.server
    import threading

    answers = iter([(503, "3"), (507, None), (429, "1")])

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            code, retry_after = next(answers)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(code)
            if retry_after:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"detail": "busy"}')

        def log_message(self, *args):
            pass

    busy = http.server.HTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=busy.serve_forever, daemon=True).start()
    write(watch / "LNTO-01_ch4.xlsx", exports[0])
    uploader = make_uploader(server=f"http://127.0.0.1:{busy.server_port}", backoff_base_s=0.5, backoff_cap_s=60)

    def sleep(seconds):
        uploader.sleeps.append(seconds)
        if len(uploader.sleeps) == 3:
            uploader.server = live_server.url

    uploader.sleep = sleep
    try:
        uploader.poll()
        assert uploader.poll()["uploaded"] == 1
    finally:
        busy.shutdown()
    assert uploader.sleeps[0] >= 3.0  # Retry-After of the 503
    assert 0.5 <= uploader.sleeps[1] <= 1.0  # 507: plain backoff, second step (1 s with jitter)
    assert uploader.sleeps[2] >= 1.0
    assert DataFile.objects.filter(cell=cell).count() == 1


def test_its_default_patterns_take_exports_and_leave_notes_alone(make_uploader, watch, cell, exports):
    write(watch / "LNTO-01_ch1.xlsx", exports[0])
    write(watch / "LNTO-01_notes.txt", b"Notes: pressed at 3.5 t, looked fine.\n")
    write(watch / "LNTO-01_run.mpt", b"EC-Lab ASCII FILE\n")
    write(watch / "LNTO-01_maccor.041", b"Today's Date 01/02/2021\n")
    uploader = make_uploader()
    assert sorted(p.name for p in uploader.candidates()) == ["LNTO-01_ch1.xlsx", "LNTO-01_maccor.041",
                                                             "LNTO-01_run.mpt"]
    opted_in = make_uploader(patterns=(*up.DEFAULT_PATTERNS, "*.txt"))
    assert "LNTO-01_notes.txt" in [p.name for p in opted_in.candidates()]


def test_a_stray_text_sent_anyway_is_refused_with_415_and_leaves_no_failed_file(make_uploader, watch, cell):
    write(watch / "LNTO-01_notes.txt", b"Notes: pressed at 3.5 t, looked fine.\nVoltage ok.\n")
    uploader = make_uploader(patterns=("*.txt",))
    uploader.poll()  # the first sight: it waits until the file held still
    assert uploader.poll()["refused"] == 1
    files = {Path(k).name: v for k, v in saved_state(uploader)["files"].items()}
    assert files["LNTO-01_notes.txt"]["http_status"] == 415
    assert "no record table of a cycler" in files["LNTO-01_notes.txt"]["message"]
    assert not DataFile.objects.exists()
