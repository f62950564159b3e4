"""The analysed record stored once: every face shows the cycles of the cycles API, whatever the file's own index."""
import io

import numpy as np
import pandas as pd
import pytest
from django.core.files.storage import default_storage

from cycling import selectors
from cycling.analysis.record import ANALYSED_COLUMNS, RECORDS_FORMAT, raw_record
from cycling.models import DataFile
from cycling.simulate import study_cell
from cycling.testing import write_land
from tests.conftest import client_for
from tests.helpers import ingest

pytestmark = pytest.mark.django_db

N_CYCLES = 12


def _land(records: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    write_land(records, buf)
    return buf.getvalue()


def _study(**overrides) -> pd.DataFrame:
    return study_cell("coated", n_cycles=N_CYCLES, points_per_half_cycle=30, **overrides)[0]


def stuck_index() -> pd.DataFrame:
    """LAND's Cycle-Index does not advance once: cycle 6's records (and all after) say one less."""
    records = _study()
    records.loc[records["cycle"] >= 6, "cycle"] -= 1
    return records


def skipped_index() -> pd.DataFrame:
    """LAND's Cycle-Index jumps from 5 to 7."""
    records = _study()
    records.loc[records["cycle"] >= 6, "cycle"] += 1
    return records


def discharge_first() -> pd.DataFrame:
    return _study(first_half="discharge")


def _body(resp) -> bytes:
    assert resp.status_code == 200, getattr(resp, "content", b"")
    return b"".join(resp.streaming_content) if resp.streaming else resp.content


def _cycles_api(api, cell) -> pd.DataFrame:
    return pd.DataFrame(api.get(f"/api/v1/cells/{cell.pk}/cycles/").json())


def _halves_of_records(frame: pd.DataFrame, cycle_col: str, half_col: str, cap_col: str) -> pd.DataFrame:
    moving = frame[frame[half_col].isin(["charge", "discharge"])]
    return moving.groupby([cycle_col, half_col], observed=True)[cap_col].max().unstack()


@pytest.mark.parametrize("make", [stuck_index, skipped_index, discharge_first])
def test_it_shows_the_cycles_of_the_cycles_api_on_every_face(make, viewer, cell):
    records = make()
    datafile = ingest(cell, _land(records), f"{make.__name__}.xlsx")
    assert datafile.status == DataFile.Status.IMPORTED, datafile.error
    api = client_for(viewer)
    table = _cycles_api(api, cell)
    cycles = table["cycle"].tolist()
    assert len(cycles) == N_CYCLES
    mass_g = cell.active_mass_mg / 1000.0
    last = table.iloc[-1]
    tokens = ",".join(map(str, cycles))

    # Curves: one charge and one discharge trace per cycle, none for a cycle the API does not hold.
    curves = api.get(f"/api/v1/cells/{cell.pk}/curves/", {"cycles": tokens}).json()["traces"]
    traced = sorted((t["cycle"], t["half"]) for t in curves)
    assert traced == sorted((c, h) for c in cycles for h in ("charge", "discharge"))
    by = {(t["cycle"], t["half"]): t for t in curves}
    for half in ("charge", "discharge"):
        assert by[(last["cycle"], half)]["capacity"][-1] == pytest.approx(last[f"{half}_mah_g"], rel=0.005)
    # The curves' last point of every cycle is the table's capacity (within 0.5 %).
    for _, row in table.iterrows():
        for half in ("charge", "discharge"):
            assert max(by[(row["cycle"], half)]["capacity"]) == pytest.approx(row[f"{half}_mah_g"], rel=0.005)

    # dQ/dV: the same cycles, both halves.
    dqdv = api.get(f"/api/v1/cells/{cell.pk}/dqdv/", {"cycles": tokens}).json()["traces"]
    assert sorted((t["cycle"], t["half"]) for t in dqdv) == traced

    # Peak tracks: peaks only on the API's cycles, on every one of them in both halves.
    peaks = api.get(f"/api/v1/cells/{cell.pk}/peaks/").json()["peaks"]
    assert sorted({(p["cycle"], p["half"]) for p in peaks}) == traced

    # Records (CSV of the file, Parquet of the cell): the cycles of the API, last capacities equal.
    frame = pd.read_csv(io.BytesIO(_body(api.get(f"/api/v1/datafiles/{datafile.pk}/records/"))))
    halves = _halves_of_records(frame, "cell_cycle", "half", "capacity_mah")
    assert halves.index.tolist() == cycles
    np.testing.assert_allclose(halves["charge"] / mass_g, table["charge_mah_g"], rtol=0.005)
    np.testing.assert_allclose(halves["discharge"] / mass_g, table["discharge_mah_g"], rtol=0.005)
    cell_records = pd.read_parquet(io.BytesIO(_body(api.get(f"/api/v1/cells/{cell.pk}/records/",
                                                            {"output": "parquet"}))))
    assert sorted(cell_records["cell_cycle"].unique()) == cycles
    # The file's own index is kept beside the analysed cycle.
    np.testing.assert_array_equal(cell_records["instrument_cycle"], records["cycle"])

    # BDF: cycle_count holds the API's cycles; the per-cycle capacity (Ah) is the table's.
    bdf = pd.read_parquet(io.BytesIO(_body(api.get(f"/api/v1/cells/{cell.pk}/records/",
                                                   {"output": "bdf-parquet"}))))
    assert sorted(bdf["cycle_count"].unique()) == cycles
    charge = bdf[bdf["current_ampere"] > 0].groupby("cycle_count")["charging_capacity_ah"].max()
    discharge = bdf[bdf["current_ampere"] < 0].groupby("cycle_count")["discharging_capacity_ah"].max()
    np.testing.assert_allclose(charge.to_numpy() * 1000 / mass_g, table["charge_mah_g"], rtol=0.005)
    np.testing.assert_allclose(discharge.to_numpy() * 1000 / mass_g, table["discharge_mah_g"], rtol=0.005)


def test_the_stuck_index_is_corrected_once_at_ingest_and_stored(cell):
    records = stuck_index()
    datafile = ingest(cell, _land(records), "stuck.xlsx")
    assert datafile.provenance["cycle_source"] == "derived"
    assert datafile.provenance["records_format"] == RECORDS_FORMAT
    with default_storage.open(datafile.records_file, "rb") as fh:
        stored = pd.read_parquet(fh)
    assert [c for c in ANALYSED_COLUMNS if c not in stored] == []
    # LAND said 11 cycles, the record holds 12: the 6th is back where it belongs.
    assert records["cycle"].max() == stored["instrument_cycle"].max() == N_CYCLES - 1
    assert stored["cycle"].max() == N_CYCLES
    assert stored.loc[stored["instrument_cycle"] == 5, "cycle"].unique().tolist() == [5, 6]
    assert set(stored["half"].unique()) == {"rest", "charge", "discharge"}
    assert set(stored["segment"].unique()) == {"formation", "long-term"}
    # The raw record is given back for a reprocess: the analysis starts from what LAND wrote.
    np.testing.assert_array_equal(raw_record(stored)["cycle"], records["cycle"])


def test_a_reprocess_rewrites_the_record_only_when_the_analysis_changes(cell):
    from cycling import services

    datafile = ingest(cell, _land(discharge_first()), "first.xlsx")
    name = datafile.records_file
    services.datafile_reprocess(datafile=datafile, reason="test")
    services.datafile_ingest(datafile_id=datafile.pk)
    datafile.refresh_from_db()
    assert datafile.records_file == name  # nothing the analysis decides changed: no rewrite
    cell.composite_loading_mg_cm2 = cell.composite_loading_mg_cm2 * 3  # 1C triples: other C-rate labels
    cell.save()
    services.datafile_ingest(datafile_id=datafile.pk)
    datafile.refresh_from_db()
    assert datafile.records_file != name
    labels = selectors.records_of(datafile, columns=["cycle", "c_rate_label"]).groupby("cycle")["c_rate_label"].first()
    rows = dict(datafile.cycles.values_list("file_cycle", "c_rate_label"))
    assert labels.astype(str).to_dict() == rows


def test_an_old_parquet_without_the_analysed_columns_is_re_derived_on_read_until_reprocessed(cell, viewer):
    from cycling import services
    from cycling.analysis.record import raw_record as as_read

    datafile = ingest(cell, _land(stuck_index()), "stuck.xlsx")
    with default_storage.open(datafile.records_file, "rb") as fh:
        stored = pd.read_parquet(fh)
    # As the ingest wrote it before the analysed record: the raw columns only, no format in the provenance.
    buf = io.BytesIO()
    as_read(stored).to_parquet(buf, index=False)
    old_name = default_storage.save("records/old-format.parquet", io.BytesIO(buf.getvalue()))
    provenance = {k: v for k, v in datafile.provenance.items() if k != "records_format"}
    DataFile.objects.filter(pk=datafile.pk).update(records_file=old_name, provenance=provenance)
    datafile.refresh_from_db()
    assert selectors.is_legacy_record(datafile)
    recs = selectors.records_of(datafile, [6], columns=["cycle", "half", "segment"])
    expected = stored[stored["cycle"] == 6]
    assert len(recs) == len(expected) and recs["half"].astype(str).tolist() == expected["half"].astype(str).tolist()
    curves = client_for(viewer).get(f"/api/v1/cells/{cell.pk}/curves/", {"cycles": "5,6"}).json()["traces"]
    assert sorted((t["cycle"], t["half"]) for t in curves) == [(5, "charge"), (5, "discharge"),
                                                              (6, "charge"), (6, "discharge")]
    # The records API streams it batch by batch with the corrected cycles.
    frame = pd.read_csv(io.BytesIO(_body(client_for(viewer).get(f"/api/v1/datafiles/{datafile.pk}/records/"))))
    np.testing.assert_array_equal(frame["cycle"], stored["cycle"])
    assert frame["half"].tolist() == stored["half"].astype(str).tolist()
    # A reprocess (from our own Parquet, no re-parse) writes the analysed record.
    services.datafile_reprocess(datafile=datafile, reason="upgrade")
    services.datafile_ingest(datafile_id=datafile.pk)
    datafile.refresh_from_db()
    assert not selectors.is_legacy_record(datafile) and datafile.records_file != old_name
    with default_storage.open(datafile.records_file, "rb") as fh:
        upgraded = pd.read_parquet(fh)
    np.testing.assert_array_equal(upgraded["cycle"], stored["cycle"])


def test_the_dataset_zip_ships_the_analysed_record_of_a_corrected_file(viewer, cell):
    import zipfile

    datafile = ingest(cell, _land(stuck_index()), "stuck.xlsx")
    resp = client_for(viewer).get(f"/api/v1/datasets/?cells={cell.pk}")
    zf = zipfile.ZipFile(io.BytesIO(_body(resp)))
    base = f"cells/{cell.name}"
    cycles = pd.read_csv(zf.open(f"{base}/cycles.csv"))["cycle"].tolist()
    assert cycles == list(range(1, N_CYCLES + 1))
    shipped = pd.read_parquet(io.BytesIO(zf.read(f"{base}/records/{datafile.pk}.parquet")))
    assert sorted(shipped["cell_cycle"].unique()) == cycles
    bdf = pd.read_parquet(io.BytesIO(zf.read(f"{base}/records/{datafile.pk}.bdf.parquet")))
    assert sorted(bdf["cycle_count"].unique()) == cycles
