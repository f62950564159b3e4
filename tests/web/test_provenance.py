"""Cell page trust: findings with their record ranges, pause bands on the cycle axis, the "how these numbers were
made" panel, run start in lab time, fade figures, and the warning badge of the cell list."""
import io
import json
import re
from datetime import datetime

import numpy as np
import pytest

from cycling.parsers import neware
from cycling.simulate import simple_spec, simulate_cell, study_cell
from cycling.testing import write_land
from tests.factories import CellFactory
from tests.web.helpers import ingest

pytestmark = pytest.mark.django_db


def _bytes(records) -> bytes:
    buf = io.BytesIO()
    write_land(records, buf)
    return buf.getvalue()


def paused_records(n_cycles=40, cycle=30):
    """A coated study cell with a 2 h pause injected after the 21st discharge record of `cycle`: test time and
    system time of every later record move 7200 s on. Returns the records and the two records around it."""
    records, _ = study_cell("coated", n_cycles=n_cycles, points_per_half_cycle=40)
    discharge = records.loc[(records["cycle"] == cycle) & (records["step_kind"] == "discharge"), "record"].to_numpy()
    before, after = int(discharge[20]), int(discharge[21])
    later = records["record"] >= after
    records.loc[later, "test_time_s"] += 7200.0
    records.loc[later, "sys_time"] += np.timedelta64(7200, "s")
    return records, before, after


@pytest.fixture
def paused_cell(project):
    cell = CellFactory(project=project, name="LNTO-PAUSE")
    records, before, after = paused_records()
    datafile = ingest(cell, _bytes(records), "LNTO-PAUSE.xlsx")
    assert datafile.status == "imported", datafile.error
    return cell, datafile, before, after


@pytest.fixture
def plain_cell(project):
    cell = CellFactory(project=project, name="LNTO-PLAIN")
    records, _ = study_cell("coated", n_cycles=40, points_per_half_cycle=40)
    ingest(cell, _bytes(records), "LNTO-PLAIN.xlsx")
    return cell


def marks(html: str) -> dict:
    return json.loads(re.search(r'<script id="cell-marks" type="application/json">(.*?)</script>', html, re.S)[1])


def findings_rows(html: str) -> list[str]:
    body = html.split('class="data small findings-table"')[1].split("</table>")[0] if "findings-table" in html else ""
    return re.findall(r'<tr class="finding (\w+)" data-code="(\w+)" data-first-record="(\d*)" data-last-record="(\d*)"',
                      body)


def test_it_shows_an_injected_pause_with_its_records_and_a_band_at_its_cycle(viewer_web, paused_cell):
    cell, datafile, before, after = paused_cell
    resp = viewer_web.get(f"/cells/{cell.pk}/")
    html = resp.content.decode()
    assert ("warning", "time_gap", str(before), str(after)) in findings_rows(html)
    assert f"records {before:,}–{after:,}" in html  # the record range, in words, in the findings table
    # 2 h injected on top of the ~4 min logging step between the two records.
    assert f"Test time jumps 2.1 h between records {before:,} and {after:,} (cycle 30)" in html
    assert re.search(r'id="cell-warnings"[^>]*>1 warning<', html)

    pauses = marks(html)["pauses"]
    assert len(pauses) == 1
    band = pauses[0]
    assert band["kind"] == "pause" and band["code"] == "time_gap" and band["datafile"] == datafile.pk
    assert (band["from_cycle"], band["to_cycle"]) == (30, 30)
    assert (band["first_record"], band["last_record"]) == (before, after)


def test_it_shows_no_pause_and_no_warning_on_an_unmodified_cell(viewer_web, plain_cell):
    html = viewer_web.get(f"/cells/{plain_cell.pk}/").content.decode()
    assert marks(html)["pauses"] == []
    assert findings_rows(html) == []
    assert "No findings: the checks saw nothing to look at." in html
    assert 'id="cell-warnings"' not in html


def test_it_counts_warnings_on_the_cell_list(viewer_web, paused_cell, plain_cell):
    resp = viewer_web.get("/")
    counts = {c.name: c.n_warnings for c in resp.context["page"].object_list}
    assert counts == {"LNTO-PAUSE": 1, "LNTO-PLAIN": 0}
    html = resp.content.decode()
    assert html.count('class="badge warn"') == 1 and ">1 warning<" in html


def test_it_explains_how_the_numbers_were_made(viewer_web, plain_cell):
    from cycling.analysis import ANALYSIS_VERSION
    from cycling.parsers import PARSER_VERSION

    html = viewer_web.get(f"/cells/{plain_cell.pk}/").content.decode()
    panel = html.split('<dl class="sheet provenance">')[1].split("</dl>")[0]
    dd = dict(re.findall(r'<dd data-key="(\w+)">(.*?)</dd>', panel, re.S))
    # 12 mg/cm2 x 0.70 x pi (0.5 cm)^2 = 6.597 mg of NMC: the mass every mAh/g on the page divides by.
    assert dd["active_mass_mg"] == "6.597 mg"
    assert dd["theoretical_mah_g"].startswith("160 mAh/g")
    assert dd["ce_convention"].startswith("discharge/charge × 100")
    assert dd["cycle_source"] == "LAND's cycle index"
    assert dd["instrument"] == "LAND" and dd["reader"] == f"assb-lab land {PARSER_VERSION}"
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", dd["dqdv"])) == \
        "grid 5 mV, Savitzky-Golay window 21 points, order 3"  # as stored by the ingest, not assumed
    assert dd["parser_version"] == f"version {PARSER_VERSION}"
    assert dd["analysis_version"] == f"version {ANALYSIS_VERSION}"
    assert dd["reference_cycles"] == "retention vs cycle 3; decay vs cycle 1"


def test_it_shows_the_run_start_in_lab_local_time(viewer_web, project, settings):
    assert settings.TIME_ZONE == "Europe/Berlin"
    cell = CellFactory(project=project, name="LNTO-SUMMER")
    # LAND writes the cycler PC's wall clock: 09:00 in Berlin in summer is 07:00 UTC.
    records, _ = study_cell("coated", n_cycles=4, points_per_half_cycle=30, start=datetime(2021, 7, 1, 9, 0, 0))
    datafile = ingest(cell, _bytes(records), "summer.xlsx")
    assert datafile.metadata["start_time_utc"].startswith("2021-07-01T07:00:00")
    html = viewer_web.get(f"/cells/{cell.pk}/").content.decode()
    assert '<td class="run-start"><time datetime="2021-07-01T09:00:00+02:00">2021-07-01 09:00 CEST</time></td>' in html
    assert "run started <time" in html and "(lab time, Europe/Berlin)" in html


def test_it_shows_the_fade_figures_with_their_reference_cycles(viewer_web, project):
    cell = CellFactory(project=project, name="LNTO-500")
    records, info = study_cell("coated", n_cycles=502, points_per_half_cycle=20)
    ingest(cell, _bytes(records), "long.xlsx")
    html = viewer_web.get(f"/cells/{cell.pk}/").content.decode()
    fade = html.split('<div class="fade wide" id="fade">')[1].split("</table>")[0]
    dd = dict(re.findall(r'<dd data-key="(\w+)">(.*?)</dd>', fade))
    # DOMAIN.md: (161.4 - 88.6) / 161.4 / 500 = 0.090 %/cycle, relative to the first 0.1C discharge.
    assert dd["decay_percent_per_cycle"] == "0.090 %/cycle"
    assert "vs cycle 1, to cycle 502 over 500 cycles" in fade
    assert dd["cycles_to_80_percent"] == "303" and dd["cycles_to_70_percent"] == "425"
    assert "after cycle 3" in fade and dd["knee_cycle"] == "none"
    windows = re.findall(r'<th class="num">(\d+)–(\d+)</th>', fade)
    assert windows[:2] == [("3", "102"), ("103", "202")] and len(windows) == 5
    assert marks(html)["retention_reference_cycle"] == 3 and marks(html)["knee_cycle"] is None


def test_it_marks_the_knee_of_a_cell_that_starts_to_fade_fast(viewer_web, project):
    cell = CellFactory(project=project, name="KNEE-01")
    n = 60
    discharge = np.where(np.arange(n) < 40, 150.0 - 0.05 * np.arange(n), 148.0 - 1.5 * (np.arange(n) - 40))
    spec = simple_spec(n, discharge_mah_g=tuple(discharge), charge_mah_g=tuple(discharge / 0.995),
                       c_rates=1.0 / 3.0, points_per_half_cycle=20)
    ingest(cell, _bytes(simulate_cell(spec)), "knee.xlsx")
    html = viewer_web.get(f"/cells/{cell.pk}/").content.decode()
    assert marks(html)["knee_cycle"] == 41
    assert '<dd data-key="knee_cycle">cycle 41</dd>' in html


def test_it_names_the_instrument_and_reader_of_another_cyclers_file(viewer_web, project):
    from tests.landfiles import NEWARE

    cell = CellFactory(project=project, name="LNTO-NEWARE")
    ingest(cell, NEWARE.read_bytes(), "neware.xls")
    html = viewer_web.get(f"/cells/{cell.pk}/").content.decode()
    panel = html.split('<dl class="sheet provenance">')[1].split("</dl>")[0]
    dd = dict(re.findall(r'<dd data-key="(\w+)">(.*?)</dd>', panel, re.S))
    assert dd["instrument"] == "Neware" and dd["reader"] == f"assb-lab neware-bts {neware.VERSION}"
    assert dd["cycle_source"] == "Neware's cycle index"
