"""Stack pressure as data: the BDF pressure channel read back, the drift rule on generated drifts, the channel on
the cell page and R_int against stack pressure across cells."""
import io

import pytest

from cycling.parsers import read_export
from cycling.simulate import simple_spec, simulate_cell
from impedance.simulate import study_spectrum, write_spectrum
from solidstate.analysis.pressure import pressure_drift, read_pressure_channel
from solidstate.simulate import bdf_with_pressure, pressure_log
from tests.factories import CellFactory
from tests.helpers import ingest


@pytest.fixture(scope="module")
def records():
    return simulate_cell(simple_spec(3))


def test_it_reads_the_bdf_applied_pressure_channel_in_mpa(records):
    log = pressure_log(duration_s=float(records.test_time_s.max()), seed=1)
    data = bdf_with_pressure(records, log)
    assert b"Applied Pressure / Pa" in data.splitlines()[0]
    assert len(read_export(io.BytesIO(data), name="run.csv").records) == len(records)  # still a cycler file
    channel = read_pressure_channel(data, name="run.csv")
    assert len(channel) == len(records)
    assert channel["pressure_mpa"].mean() == pytest.approx(50.0, abs=0.1)
    no_channel = bdf_with_pressure(records, log).replace(b"Applied Pressure / Pa", b"Other / 1")
    assert read_pressure_channel(no_channel) is None


def test_the_drift_rule_fires_on_a_generated_drift_and_not_on_a_steady_pressure():
    steady = pressure_log(seed=2)
    assert pressure_drift(steady.time_s, steady.pressure_mpa, 50.0) is None
    drifting = pressure_log(drift_from_s=6 * 3600, drift_to_mpa=38.0, seed=3)
    found = pressure_drift(drifting.time_s, drifting.pressure_mpa, 50.0)
    # the ramp 50 -> 38 MPa over 18 h leaves the 10 % band (45 MPa) after 5/12 of it: 13.5 h
    assert found is not None and found.since_s == pytest.approx(13.5 * 3600, abs=0.5 * 3600)
    assert found.pressure_mpa == pytest.approx(38.0, abs=0.5) and found.deviation_percent == pytest.approx(-24, abs=1)
    assert "from the registered 50 MPa" in found.message
    # a drift that came back within the band is no longer active
    back = drifting.copy()
    back.loc[back.time_s > 20 * 3600, "pressure_mpa"] = 50.0
    assert pressure_drift(back.time_s, back.pressure_mpa, 50.0) is None


@pytest.mark.django_db
def test_the_cell_page_shows_the_channel_and_its_drift_and_the_pressure_page_plots_rint(records, client, lab_admin):
    cell = CellFactory(stack_pressure_mpa=50.0)
    log = pressure_log(duration_s=float(records.test_time_s.max()), drift_from_s=0.3 * records.test_time_s.max(),
                       drift_to_mpa=35.0, dt_s=300.0, seed=4)
    datafile = ingest(cell, bdf_with_pressure(records, log), name="run_bdf.csv")
    assert datafile.status == "imported", datafile.error
    spectrum = ingest(cell, write_spectrum(study_spectrum("bare"), "mpt"), name="cell_c2.mpt", kind="eis")
    assert spectrum.status == "imported", spectrum.error
    other = CellFactory(project=cell.project, group=cell.group, stack_pressure_mpa=100.0)
    ingest(other, write_spectrum(study_spectrum("coated"), "mpt"), name="other_c2.mpt", kind="eis")
    client.force_login(lab_admin)
    html = client.get(cell.get_absolute_url()).content.decode()
    assert 'id="stack-pressure"' in html and 'id="pressure-data"' in html and "pressure-drift" in html
    page = client.get("/stack-pressure/")
    rows = {r["cell"]: r for r in page.context["rint"]}
    assert rows[cell.name]["pressure_source"] == "measured" and rows[cell.name]["stack_pressure_mpa"] < 50.0
    assert rows[other.name]["pressure_source"] == "registered" and rows[other.name]["stack_pressure_mpa"] == 100.0
    assert rows[cell.name]["r_int_ohm"] == pytest.approx(1400, rel=0.1)
    assert rows[other.name]["r_int_ohm"] == pytest.approx(248, rel=0.15)
    assert [d["cell"].pk for d in page.context["drifts"]] == [cell.pk]


@pytest.mark.django_db
def test_the_monitoring_drift_rule_raises_an_alert_for_a_drifting_cell_only(records):
    from monitoring.models import Alert
    from monitoring.rules import PRESSURE_DRIFT
    from monitoring.services import cell_evaluate

    end = float(records.test_time_s.max())
    drifting, steady = CellFactory(stack_pressure_mpa=50.0), CellFactory(stack_pressure_mpa=50.0)
    ingest(drifting, bdf_with_pressure(records, pressure_log(duration_s=end, drift_from_s=0.3 * end, drift_to_mpa=35.0,
                                                             dt_s=300.0, seed=5)), name="drift_bdf.csv")
    ingest(steady, bdf_with_pressure(records, pressure_log(duration_s=end, dt_s=300.0, seed=6)), name="steady_bdf.csv")
    cell_evaluate(cell_id=drifting.pk)
    cell_evaluate(cell_id=steady.pk)
    [alert] = Alert.objects.filter(kind=PRESSURE_DRIFT)
    assert alert.cell_id == drifting.pk and "from the registered 50 MPa" in alert.message
    assert alert.values["pressure_mpa"] == pytest.approx(35.0, abs=1.0)
