"""Compare summary with EIS: R_int after formation per cell (1400 vs 248 ohm) and per group, one query, exports."""
import csv
import io
from unittest import mock

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cycling import services
from impedance.simulate import STUDY_CIRCUIT, STUDY_PARAMS, simulate_spectrum, study_spectrum
from tests.conftest import client_for
from tests.factories import CellFactory
from tests.impedance.test_services import write_mpt
from tests.landfiles import upload_file
from tests.web.helpers import export_bytes, ingest

pytestmark = pytest.mark.django_db

AREA_CM2 = 0.7853982  # 10 mm die


def ingest_eis(cell, kind: str, name: str, *, seed: int = 0, notes: str = "", spectrum=None):
    """A study spectrum (or `spectrum`) as a BioLogic .mpt through the real upload + ingest, fit included."""
    data = write_mpt([spectrum or study_spectrum(kind, seed=seed)])
    with mock.patch.object(services, "datafile_enqueue"):
        datafile, _ = services.datafile_create(cell=cell, upload=upload_file(data, name), kind="eis", notes=notes)
    services.datafile_ingest(datafile_id=datafile.pk)
    datafile.refresh_from_db()
    assert datafile.status == "imported", datafile.error
    return datafile


def with_eis(study):
    """After-formation spectra (after cycle 2) for every study cell; LNTO-01 again after cycle 100 (R_int 400)."""
    for cell in study["cells"]:
        kind = "coated" if cell.group_id == study["coated"].pk else "bare"
        ingest_eis(cell, kind, f"{cell.name}_c2.mpt", seed=cell.replicate_number)
    lnto1 = next(c for c in study["cells"] if c.name == "LNTO-01")
    grown = simulate_spectrum(STUDY_CIRCUIT, {**STUDY_PARAMS["coated"], "R2": 400.0}, seed=9)
    ingest_eis(lnto1, "coated", "LNTO-01_c100.mpt", spectrum=grown)  # not after formation: must not be reported
    return study


def _get(api, query, path="/api/v1/compare/"):
    resp = api.get(f"{path}?{query}")
    assert resp.status_code == 200, resp.content
    return resp.json()


@pytest.fixture
def both(study):
    with_eis(study)
    return f"groups={study['coated'].pk},{study['bare'].pk}"


def test_it_reports_r_int_after_formation_per_cell_1400_vs_248_ohm(viewer, both):
    summary = _get(client_for(viewer), both, path="/api/v1/compare/summary/")
    keys = [c["key"] for c in summary["columns"]]
    assert keys[3:6] == ["r_int_ohm", "r_int_ohm_cm2", "r_int_cycle"]  # next to the other after-formation figures
    assert summary["columns"][3]["label"] == "R_int after formation (Ω)"
    cells = {r["cell"]: r for r in summary["cells"]}
    for name, golden in (("BARE-01", 1400), ("BARE-02", 1400), ("BARE-03", 1400),
                         ("LNTO-01", 248), ("LNTO-02", 248), ("LNTO-03", 248)):
        row = cells[name]
        assert row["r_int_ohm"] == pytest.approx(golden, rel=0.02), name
        assert row["r_int_ohm_cm2"] == pytest.approx(golden * AREA_CM2, rel=0.02), name
        assert row["r_int_cycle"] == 2 and isinstance(row["r_int_spectrum_id"], int)
    # LNTO-01 also has a 400-ohm spectrum after cycle 100: the earliest one is the after-formation value.
    assert cells["LNTO-01"]["r_int_ohm"] == pytest.approx(248, rel=0.02)


def test_it_gives_each_group_r_int_mean_and_sd_with_the_shared_cycle(viewer, both):
    summary = _get(client_for(viewer), both, path="/api/v1/compare/summary/")
    coated, bare = summary["groups"]
    cells = [r for r in summary["cells"] if r["group"] == "bare"]
    values = [r["r_int_ohm"] for r in cells]
    mean = sum(values) / 3
    sd = (sum((v - mean) ** 2 for v in values) / 2) ** 0.5
    assert bare["r_int_ohm"] == pytest.approx(mean, abs=0.06) == pytest.approx(1400, rel=0.02)
    assert bare["r_int_ohm_sd"] == pytest.approx(sd, abs=0.06) and bare["r_int_ohm_sd"] > 0
    assert coated["r_int_ohm"] == pytest.approx(248, rel=0.02) and coated["r_int_ohm_cm2"] == pytest.approx(
        248 * AREA_CM2, rel=0.02)
    assert (bare["r_int_cycle"], bare["r_int_cycle_varies"], bare["r_int_n"]) == (2, False, 3)
    assert coated["r_int_cycle_sd"] is None and coated["r_int_n"] == 3


def test_it_names_a_varying_cycle_and_prefers_a_known_cycle(viewer, project, study):
    bare1, bare2, bare3 = (c for c in study["cells"] if c.group_id == study["bare"].pk)
    ingest_eis(bare1, "bare", "BARE-01.mpt", seed=1)  # cycle unknown
    ingest_eis(bare1, "bare", "BARE-01_c5.mpt", seed=2)
    ingest_eis(bare2, "bare", "BARE-02_c3.mpt", seed=3)
    ingest_eis(bare3, "bare", "BARE-03.mpt", seed=4)  # only an unknown cycle: still its R_int
    summary = _get(client_for(viewer), f"groups={study['bare'].pk}", path="/api/v1/compare/summary/")
    cells = {r["cell"]: r for r in summary["cells"]}
    assert [cells[n]["r_int_cycle"] for n in ("BARE-01", "BARE-02", "BARE-03")] == [5, 3, None]
    assert cells["BARE-03"]["r_int_ohm"] == pytest.approx(1400, rel=0.02)
    group = summary["groups"][0]
    assert group["r_int_cycle"] is None and group["r_int_cycle_varies"] is True and group["r_int_n"] == 3


def test_it_leaves_r_int_empty_without_eis(viewer, study):
    summary = _get(client_for(viewer), f"groups={study['bare'].pk}", path="/api/v1/compare/summary/")
    row, group = summary["cells"][0], summary["groups"][0]
    assert row["r_int_ohm"] is None and row["r_int_ohm_cm2"] is None and row["r_int_cycle"] is None
    assert row["r_int_spectrum_id"] is None
    assert group["r_int_ohm"] is None and group["r_int_ohm_sd"] is None and group["r_int_n"] == 0
    assert group["r_int_cycle_varies"] is False
    assert summary["cells"][0]["initial_ce_percent"] == pytest.approx(54.5, abs=0.6)  # the rest unchanged


def test_it_reads_r_int_with_one_query_whatever_the_number_of_cells(viewer, project, study):
    api = client_for(viewer)
    coated = study["coated"]
    _get(api, "")  # warm the user's permission cache
    for cell in study["cells"][:1]:
        ingest_eis(cell, "coated", f"{cell.name}_c2.mpt")
    with CaptureQueriesContext(connection) as small:
        _get(api, f"groups={coated.pk}")
    for rep in (4, 5, 6):
        cell = CellFactory(project=project, group=coated, name=f"LNTO-{rep:02d}", replicate_number=rep)
        ingest(cell, export_bytes("coated", rep, 12), f"{cell.name}.xlsx")
        ingest_eis(cell, "coated", f"{cell.name}_c2.mpt", seed=rep)
    with CaptureQueriesContext(connection) as large:
        body = _get(api, f"groups={coated.pk},{study['bare'].pk}")
    assert len(body["cells"]) == 9 and sum(r["r_int_ohm"] is not None for r in body["summary"]["cells"]) == 4
    assert len(large.captured_queries) == len(small.captured_queries) == 4  # groups, cells, cycles, R_int
    eis_queries = [q for q in large.captured_queries if "impedance_" in q["sql"]]
    assert len(eis_queries) == 1


def _csv(resp):
    assert resp.status_code == 200
    return list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))


def test_it_exports_r_int_with_units_to_csv_and_xlsx(viewer_web, both):
    rows = {r["Cell"]: r for r in _csv(viewer_web.get(f"/compare/export/?{both}&table=cells&format=csv"))}
    assert float(rows["BARE-01"]["R_int after formation (Ω)"]) == pytest.approx(1400, rel=0.02)
    assert float(rows["LNTO-01"]["R_int after formation (Ω)"]) == pytest.approx(248, rel=0.02)
    assert float(rows["LNTO-01"]["R_int after formation (Ω·cm²)"]) == pytest.approx(248 * AREA_CM2, rel=0.02)
    assert rows["LNTO-01"]["R_int measured after cycle"] == "2"
    groups = {r["Group"]: r for r in _csv(viewer_web.get(f"/compare/export/?{both}&table=groups&format=csv"))}
    assert float(groups["bare"]["R_int after formation (Ω), mean"]) == pytest.approx(1400, rel=0.02)
    assert float(groups["bare"]["R_int after formation (Ω), sd"]) > 0
    assert groups["LNTO-coated"]["R_int measured after cycle"] == "2"

    resp = viewer_web.get(f"/compare/export/?{both}&table=cells&format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    header = [c.value for c in sheet[1]]
    col = header.index("R_int after formation (Ω)")
    by_cell = {row[0]: row[col] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert by_cell["BARE-01"] == pytest.approx(1400, rel=0.02) and by_cell["LNTO-02"] == pytest.approx(248, rel=0.02)


def test_it_exports_an_empty_r_int_cell_without_eis(viewer_web, study):
    rows = _csv(viewer_web.get(f"/compare/export/?groups={study['bare'].pk}&table=cells&format=csv"))
    assert rows and all(r["R_int after formation (Ω)"] == "" and r["R_int measured after cycle"] == "" for r in rows)
