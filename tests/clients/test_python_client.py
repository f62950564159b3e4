"""The notebook client (clients/python) against a live server started by the test: no mocks of the API."""
import sys
from pathlib import Path

import pandas as pd
import pytest
from django.core.files.storage import default_storage
from rest_framework.authtoken.models import Token
from rest_framework.pagination import LimitOffsetPagination

from cycling.models import CycleSummary, DataFile
from tests.factories import CellFactory
from tests.web.helpers import load_study

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))
import assb_client  # noqa: E402


@pytest.fixture
def eager_ingest():
    """Run the ingest inside the server's request (no worker), so an upload reaches imported/failed."""
    from assb_lab.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def study(project):
    return load_study(n_cycles=6)


def _client(live_server, user):
    key = Token.objects.get_or_create(user=user)[0].key
    return assb_client.Client(live_server.url, key)


def test_it_takes_server_and_token_from_the_environment(live_server, viewer, study, monkeypatch):
    monkeypatch.setenv("ASSB_URL", live_server.url)
    monkeypatch.setenv("ASSB_TOKEN", Token.objects.create(user=viewer).key)
    cells = assb_client.Client().cells(project="LNTO coating study")
    assert sorted(cells["name"]) == ["BARE-01", "BARE-02", "BARE-03", "LNTO-01", "LNTO-02", "LNTO-03"]
    monkeypatch.delenv("ASSB_TOKEN")
    with pytest.raises(ValueError, match="ASSB_TOKEN"):
        assb_client.Client()


def test_it_follows_every_page(live_server, viewer, study, monkeypatch):
    monkeypatch.setattr(LimitOffsetPagination, "default_limit", 2)  # the server runs in this process
    client = _client(live_server, viewer)
    assert len(client.cells()) == 6
    assert sorted(client.cells(group="bare")["name"]) == ["BARE-01", "BARE-02", "BARE-03"]


def test_it_reproduces_the_studys_comparison(live_server, viewer, study):
    client = _client(live_server, viewer)
    per_cell = client.compare(groups=["LNTO-coated", "bare"]).set_index("cell")
    assert per_cell.loc["LNTO-01", "initial_ce_percent"] == pytest.approx(85.8, abs=0.05)
    assert per_cell.loc["BARE-01", "initial_ce_percent"] == pytest.approx(54.5, abs=0.05)
    assert per_cell.loc["LNTO-01", "first_discharge_mah_g"] == pytest.approx(161.4, abs=0.05)
    per_group = client.compare(groups=["LNTO-coated", "bare"], per="group").set_index("group")
    assert per_group.loc["bare", "initial_ce_percent"] == pytest.approx(54.5, abs=0.6)
    assert per_group.attrs["columns"]["initial_ce_percent"] == "ICE (%)"
    cycles = client.cycles("LNTO-01")
    assert list(cycles["cycle"]) == [1, 2, 3, 4, 5, 6]
    assert cycles["ce_percent"].iat[0] == pytest.approx(85.8, abs=0.05)


def test_it_reads_full_resolution_records_through_parquet(live_server, viewer, study):
    client = _client(live_server, viewer)
    cell = next(c for c in study["cells"] if c.name == "LNTO-01")
    datafile = DataFile.objects.get(cell=cell)
    with default_storage.open(datafile.records_file, "rb") as fh:
        stored = pd.read_parquet(fh)
    frame = client.records("LNTO-01", cycles=[1, 2])
    expected = stored[stored["cycle"].isin([1, 2])].reset_index(drop=True)
    assert frame["datafile_id"].unique().tolist() == [datafile.pk]
    pd.testing.assert_series_equal(frame["voltage_v"], expected["voltage_v"])
    one = client.records(datafile=datafile.pk, columns=["cycle", "current_ma"])
    assert list(one.columns) == ["cycle", "current_ma"] and len(one) == datafile.n_records


def test_it_uploads_and_waits_and_round_trips_bdf(live_server, researcher, study, tmp_path, eager_ingest):
    client = _client(live_server, researcher)
    source = next(c for c in study["cells"] if c.name == "BARE-01")
    twin = CellFactory(project=source.project, group=source.group, name="BARE-01-twin")
    path = client.bdf("BARE-01", tmp_path / "bare-01.bdf.parquet", parquet=True)
    datafile = client.upload("BARE-01-twin", path, wait=True)
    assert datafile["status"] == "imported" and datafile["metadata"]["reader"] == "bdf"
    fields = ["cycle", "charge_mah_g", "discharge_mah_g", "ce_percent", "discharge_energy_mwh", "c_rate"]
    ours = list(CycleSummary.objects.filter(cell=source).order_by("cycle").values_list(*fields))
    theirs = list(CycleSummary.objects.filter(cell=twin).order_by("cycle").values_list(*fields))
    assert len(theirs) == 6 and theirs == [pytest.approx(row, rel=1e-9) for row in ours]
    assert theirs[0][3] == pytest.approx(54.5, abs=0.05)


def test_it_raises_the_servers_refusals_as_exceptions(live_server, viewer, researcher, study, tmp_path,
                                                      eager_ingest):
    bad_token = assb_client.Client(live_server.url, "not-a-token")
    with pytest.raises(assb_client.AuthenticationError) as err:
        bad_token.cells()
    assert err.value.status == 401 and err.value.message == "Invalid token."
    viewer_client = _client(live_server, viewer)
    export = tmp_path / "x.bdf.csv"
    export.write_text("test_time_second,voltage_volt,current_ampere,step_capacity_ah\n0,3.0,0.001,0\n")
    with pytest.raises(assb_client.PermissionDenied):
        viewer_client.upload("LNTO-01", export)
    with pytest.raises(assb_client.NotFound):
        viewer_client.cycles(999999)
    with pytest.raises(assb_client.ValidationError) as err:
        viewer_client.records("LNTO-01", cycles="1,x")
    assert err.value.message == "cycles: 'x' is not a cycle number or a range such as 10-20"
    broken = tmp_path / "broken.bdf.csv"
    broken.write_text("test_time_second,voltage_volt,current_ampere,step_capacity_ah\n0,3.0,0.001,0\n5,n/a,0.001,0\n")
    with pytest.raises(assb_client.ImportFailed) as err:
        _client(live_server, researcher).upload("LNTO-01", broken)
    assert "row 3, column 'voltage_volt': the voltage value is missing or not finite" in str(err.value)


def test_it_reads_a_sweeps_drt_into_frames_with_its_provenance(live_server, researcher, study, tmp_path,
                                                                eager_ingest):
    from django.core.cache import caches

    from impedance.simulate import study_spectrum, write_mpt

    caches["dashboard"].clear()
    client = _client(live_server, researcher)
    path = tmp_path / "BARE-01_c0.mpt"
    path.write_bytes(write_mpt([study_spectrum("bare", seed=3)]))
    assert client.upload("BARE-01", path, kind="eis", wait=True)["status"] == "imported"
    spectra = client.eis_spectra("BARE-01")
    assert list(spectra["after_cycle"]) == [0]
    gamma, peaks = client.drt(int(spectra["id"][0]))
    assert list(gamma.columns) == ["tau_s", "gamma_ohm"] and list(peaks.columns) == ["tau_s", "f_hz", "resistance_ohm"]
    assert peaks["resistance_ohm"].sum() == pytest.approx(gamma.attrs["r_pol_ohm"], rel=1e-6)
    assert peaks["resistance_ohm"].max() == pytest.approx(1400, rel=0.10)
    assert gamma.attrs["lambda_method"] == "gcv" and gamma.attrs["r_inf_ohm"] == pytest.approx(45, rel=0.03)
    given, _ = client.drt(int(spectra["id"][0]), lambda_=0.02)
    assert given.attrs["lambda"] == 0.02 and given.attrs["lambda_method"] == "given"


def test_it_gives_the_effect_of_coating_on_ice_and_the_screen_as_dataframes(live_server, viewer, study):
    client = _client(live_server, viewer)
    levels = client.effects("initial_ce_percent", "coating", project="LNTO coating study")
    assert list(levels["level"]) == ["none", "LNTO"] and list(levels["n"]) == [3, 3]
    assert levels["mean"].iloc[1] - levels["mean"].iloc[0] == pytest.approx(31.7, abs=0.05)
    report = levels.attrs["report"]
    assert report["test"]["name"] == "Welch's t-test" and report["difference"]["ci95"][0] > 0
    per_cell = client.effects("initial_ce_percent", "coating", project="LNTO coating study", per="cell")
    assert sorted(per_cell["cell"]) == ["BARE-01", "BARE-02", "BARE-03", "LNTO-01", "LNTO-02", "LNTO-03"]
    screen = client.effects("initial_ce_percent", project="LNTO coating study")
    assert list(screen["factor"])[0] == "coating" and screen["p_holm"].iloc[0] < 0.001
    with pytest.raises(assb_client.ValidationError, match="unknown parameter|not one of"):
        client.effects("initial_ce_percent", "colour", project="LNTO coating study")
