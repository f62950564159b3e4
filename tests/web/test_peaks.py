"""dQ/dV peak tracking API and the dQ/dV/peaks CSV downloads, on simulated cells whose peaks move a known amount."""
import csv
import io
from unittest import mock

import pytest
from django.core.management import call_command

from cycling import selectors
from cycling.analysis import ANALYSIS_VERSION, DqdvParams
from tests.conftest import client_for
from tests.landfiles import study_export
from tests.web.helpers import ingest

pytestmark = pytest.mark.django_db

SHIFT_MV = 2.0


@pytest.fixture(scope="module")
def drifting_export():
    # Charge peak moves up, discharge peak down by 2 mV per cycle (SimSpec.peak_shift_mv_per_cycle).
    return study_export("coated", n_cycles=30, points=60, peak_shift_mv_per_cycle=SHIFT_MV)[0]


@pytest.fixture
def drifting(cell, drifting_export):
    datafile = ingest(cell, drifting_export, "drifting.xlsx")
    assert datafile.status == "imported", datafile.error
    return cell


def _csv(resp):
    assert resp["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))


def test_it_reports_a_known_peak_drift_within_a_fifth_of_a_millivolt(viewer, drifting):
    resp = client_for(viewer).get(f"/api/v1/cells/{drifting.pk}/peaks/")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["params"] == {"grid_mv": 5.0, "smooth": True, "window_points": 21, "polyorder": 3}
    assert body["analysis_version"] == ANALYSIS_VERSION and body["height_unit"] == "mAh/V"
    drift = {d["peak_id"]: d for d in body["drift"]}
    assert sorted(drift) == ["charge-1", "discharge-1"]
    assert drift["charge-1"]["n_cycles"] == 30
    assert drift["charge-1"]["drift_mv_per_cycle"] == pytest.approx(SHIFT_MV, abs=0.2)
    assert drift["discharge-1"]["drift_mv_per_cycle"] == pytest.approx(-SHIFT_MV, abs=0.2)
    # Per cycle and half: position, height and area; the charge peak 29 cycles x 2 mV = 58 mV higher at the end.
    charge = [p for p in body["peaks"] if p["peak_id"] == "charge-1"]
    assert [p["cycle"] for p in charge] == list(range(1, 31))
    assert charge[-1]["voltage_v"] - charge[0]["voltage_v"] == pytest.approx(0.058, abs=0.01)
    assert all(p["height_mah_v"] > 0 and p["area_mah"] > 0 for p in charge)


def test_it_computes_the_tracks_once_per_file_and_parameters(viewer, drifting):
    client = client_for(viewer)
    url = f"/api/v1/cells/{drifting.pk}/peaks/"
    first = client.get(url).json()
    with mock.patch.object(selectors, "records_of", side_effect=AssertionError("records read again")):
        assert client.get(url).json() == first
        assert client.get(url + "?format=csv").status_code == 200
    # Other smoothing parameters are another computation, and say so.
    with mock.patch.object(selectors, "records_of", wraps=selectors.records_of) as read:
        other = client.get(url + "?grid_mv=2&window_points=31&polyorder=2").json()
    assert read.call_count == 1
    assert other["params"] == {"grid_mv": 2.0, "smooth": True, "window_points": 31, "polyorder": 2}
    assert {d["peak_id"] for d in other["drift"]} == {"charge-1", "discharge-1"}


def test_it_downloads_the_peak_table_as_csv_with_units(viewer, drifting):
    rows = _csv(client_for(viewer).get(f"/api/v1/cells/{drifting.pk}/peaks/?format=csv"))
    assert list(rows[0]) == ["peak_id", "cycle", "half", "rank", "voltage (V)", "height (mAh/V)", "area (mAh)",
                             "prominence (mAh/V)", "width (V)", "track drift (mV/cycle)"]
    assert len(rows) == 60  # one charge and one discharge peak per cycle
    charge = [r for r in rows if r["peak_id"] == "charge-1"]
    assert float(charge[0]["track drift (mV/cycle)"]) == pytest.approx(SHIFT_MV, abs=0.2)
    assert float(charge[10]["voltage (V)"]) - float(charge[0]["voltage (V)"]) == pytest.approx(0.020, abs=0.005)


def test_it_returns_dqdv_with_explicit_parameters_and_as_csv(viewer, drifting):
    client = client_for(viewer)
    body = client.get(f"/api/v1/cells/{drifting.pk}/dqdv/?cycles=1,last").json()
    assert body["params"] == {"grid_mv": DqdvParams().grid_mv, "smooth": True, "window_points": DqdvParams().window_points,
                              "polyorder": DqdvParams().polyorder}
    assert [(t["cycle"], t["half"]) for t in body["traces"]] == [(1, "charge"), (1, "discharge"), (30, "charge"),
                                                                  (30, "discharge")]
    wide = client.get(f"/api/v1/cells/{drifting.pk}/dqdv/?cycles=1&grid_mv=10&window_points=11").json()
    assert wide["params"]["grid_mv"] == 10.0 and wide["params"]["window_points"] == 11

    resp = client.get(f"/api/v1/cells/{drifting.pk}/dqdv/?cycles=1,last&format=csv")
    assert 'filename="LNTO-01-dqdv.csv"' in resp["Content-Disposition"]
    rows = _csv(resp)
    assert list(rows[0]) == ["cycle", "half", "voltage (V)", "dQ/dV (mAh/g/V)"]
    assert len(rows) == sum(len(t["voltage_v"]) for t in body["traces"])
    # The curve's maximum is where the JSON says the peak is.
    c30 = [r for r in rows if r["cycle"] == "30" and r["half"] == "charge"]
    top = max(c30, key=lambda r: float(r["dQ/dV (mAh/g/V)"]))
    assert float(top["voltage (V)"]) == pytest.approx(body["traces"][2]["peaks_v"][0], abs=0.005)


@pytest.mark.parametrize("query", ["window_points=20", "window_points=abc", "grid_mv=0", "polyorder=9&window_points=7"])
def test_it_refuses_bad_smoothing_parameters(viewer, cell, query):
    resp = client_for(viewer).get(f"/api/v1/cells/{cell.pk}/peaks/?{query}")
    assert resp.status_code == 400
    assert client_for(viewer).get(f"/api/v1/cells/{cell.pk}/dqdv/?{query}").status_code == 400


def test_it_answers_an_empty_cell_and_hides_other_projects(viewer, outsider, cell):
    body = client_for(viewer).get(f"/api/v1/cells/{cell.pk}/peaks/").json()
    assert body["datafile"] is None and body["peaks"] == [] and body["drift"] == []
    assert client_for(outsider).get(f"/api/v1/cells/{cell.pk}/peaks/").status_code == 404
    assert client_for(outsider).get(f"/api/v1/cells/{cell.pk}/dqdv/?format=csv").status_code == 404
    assert client_for(None).get(f"/api/v1/cells/{cell.pk}/peaks/").status_code in (401, 403)


def test_it_documents_the_peaks_and_dqdv_endpoints(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/cells/{id}/peaks/:" in text and "CellPeaks:" in text and "PeakDrift:" in text
    assert "text/csv" in text and "polyorder" in text


def test_it_tracks_500_cycles_in_about_a_second_and_then_from_the_cache(viewer, cell):
    import time

    ingest(cell, study_export("coated", n_cycles=502, points=20)[0], "long.xlsx")
    client = client_for(viewer)
    t0 = time.perf_counter()
    body = client.get(f"/api/v1/cells/{cell.pk}/peaks/").json()
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    client.get(f"/api/v1/cells/{cell.pk}/peaks/")
    warm = time.perf_counter() - t0
    assert {d["peak_id"]: d["n_cycles"] for d in body["drift"]} == {"charge-1": 502, "discharge-1": 502}
    assert cold < 5.0 and warm < 0.5, (cold, warm)


@pytest.mark.parametrize("group, low, high", [("bare", 0.12, 0.22), ("coated", -0.03, 0.04)])
def test_it_moves_the_demos_peaks_with_the_cells_growing_resistance(group, low, high):
    """The demo's dQ/dV peaks move apart as R_int grows (bare: +45 % per 100 cycles at 0.12 V/C, so
    ~0.18 mV/cycle at C/3; coated: +8 % at 0.04 V/C, ~0.01 mV/cycle), and the peak tracker recovers it."""
    from cycling.analysis import dqdv_all, dqdv_peak_table, track_peak
    from cycling.simulate import study_cell
    from lab.demo import demo_peak_aging

    records, info = study_cell(group, n_cycles=100, points_per_half_cycle=40, **demo_peak_aging(group))
    truth = (info["peak_charge_v"][99] - info["peak_charge_v"][2]) / 97 * 1000
    assert low < truth < high
    peaks = dqdv_peak_table(dqdv_all(records, cycles=list(range(3, 101, 4))), prominence_fraction=0.1)
    charge = track_peak(peaks, "charge", float(info["peak_charge_v"][2]))
    discharge = track_peak(peaks, "discharge", float(info["peak_discharge_v"][2]))
    assert len(charge) == len(discharge) == 25
    assert charge.attrs["drift_mv_per_cycle"] == pytest.approx(truth, abs=0.04)
    assert discharge.attrs["drift_mv_per_cycle"] == pytest.approx(-truth, abs=0.04)
