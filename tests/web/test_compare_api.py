"""Compare API: golden values of the study, aggregation invariants, reference cycle, scoping, query count, schema."""
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import client_for
from tests.factories import CellFactory
from tests.web.helpers import export_bytes, ingest

pytestmark = pytest.mark.django_db


def _get(client, query, path="/api/v1/compare/"):
    resp = client.get(f"{path}?{query}")
    assert resp.status_code == 200, resp.content
    return resp.json()


@pytest.fixture
def both(study):
    return f"groups={study['coated'].pk},{study['bare'].pk}"


def test_it_answers_anonymous_callers_401(client, study):
    assert client.get("/api/v1/compare/?groups=1").status_code == 401
    assert client.get("/api/v1/compare/summary/?groups=1").status_code == 401


def test_it_reproduces_the_studys_first_cycle_per_cell(viewer, both):
    body = _get(client_for(viewer), both)
    cells = {r["cell"]: r for r in body["summary"]["cells"]}
    assert cells["LNTO-01"]["initial_ce_percent"] == pytest.approx(85.8, abs=0.05)
    assert cells["BARE-01"]["initial_ce_percent"] == pytest.approx(54.5, abs=0.05)
    assert cells["LNTO-01"]["first_discharge_mah_g"] == pytest.approx(161.4, abs=0.05)
    assert cells["LNTO-01"]["first_charge_mah_g"] == pytest.approx(188.2, abs=0.05)
    assert cells["BARE-01"]["first_discharge_mah_g"] == pytest.approx(41.4, abs=0.05)
    assert cells["LNTO-01"]["decay_reference_cycle"] == 1
    assert cells["LNTO-01"]["retention_reference_cycle"] == 3  # first C/3 cycle after two formation cycles
    assert cells["LNTO-01"]["capacity_100_mah_g"] is None  # only 12 cycles


def test_it_aggregates_replicates_per_cycle(viewer, both, study):
    body = _get(client_for(viewer), both)
    coated, bare = body["groups"]
    assert (coated["name"], bare["name"]) == ("LNTO-coated", "bare") and coated["n_cells"] == 3
    assert coated["cycle"] == list(range(1, 13))
    cap = coated["discharge_mah_g"]
    members = [c for c in body["cells"] if c["group_id"] == coated["id"]]
    first = [c["discharge_mah_g"][0] for c in members]
    assert cap["mean"][0] == pytest.approx(sum(first) / 3, abs=0.01)
    assert cap["min"][0] == pytest.approx(min(first)) and cap["max"][0] == pytest.approx(max(first))
    assert all(lo <= m <= hi for lo, m, hi in zip(cap["min"], cap["mean"], cap["max"], strict=True))
    assert cap["n"] == [3] * 12 and all(s > 0 for s in cap["sd"])
    assert coated["ce_percent"]["mean"][0] == pytest.approx(86.3, abs=0.6)  # replicates scatter around 85.8
    assert bare["ce_percent"]["mean"][0] == pytest.approx(54.5, abs=0.6)
    # Retention is 100 % at the reference cycle for every cell.
    assert coated["retention_percent"]["mean"][2] == pytest.approx(100.0) and coated["retention_percent"]["sd"][2] == 0
    group_row = body["summary"]["groups"][0]
    assert group_row["initial_ce_percent"] == pytest.approx(coated["ce_percent"]["mean"][0], abs=0.06)
    assert group_row["initial_ce_percent_sd"] > 0 and group_row["retention_reference_cycle"] == 3


def test_it_changes_retention_with_the_reference_cycle(viewer, both):
    api = client_for(viewer)
    default = _get(api, both)
    first = _get(api, both + "&reference_cycle=1")
    assert first["selection"]["reference_cycle"] == 1
    d, f = default["summary"]["cells"][0], first["summary"]["cells"][0]
    assert f["retention_reference_cycle"] == 1 and f["retention_percent"] < d["retention_percent"]
    lnto1 = next(c for c in first["cells"] if c["name"] == "LNTO-01")
    assert lnto1["retention_percent"][0] == 100.0
    assert lnto1["retention_percent"][-1] == pytest.approx(lnto1["discharge_mah_g"][-1] / 161.4 * 100, abs=0.05)
    missing = _get(api, both + "&reference_cycle=400")["summary"]["cells"][0]
    assert missing["retention_percent"] is None


def test_it_reports_rate_capability_and_c_rate_segments(viewer, both):
    body = _get(client_for(viewer), both)
    rc = body["rate_capability"]
    # Formation at 0.1C then C/3: no rate test, so no rate bars (tests/web/test_compare_like_with_like.py has one).
    assert rc["labels"] == [] and rc["groups"][0]["n"] == [] and rc["cells"] == []
    assert len(rc["unrated_cells"]) == 6
    segments = body["cells"][0]["segments"]
    assert [(s["label"], s["from"], s["to"]) for s in segments] == [("0.1C", 1, 2), ("C/3", 3, 12)]


def test_it_compares_single_cells_without_their_group(viewer, study):
    lnto2 = next(c for c in study["cells"] if c.name == "LNTO-02")
    body = _get(client_for(viewer), f"cells={lnto2.pk}")
    assert body["groups"] == [] and [c["name"] for c in body["cells"]] == ["LNTO-02"]
    assert body["cells"][0]["selected"] is True and body["cells"][0]["url"] == f"/cells/{lnto2.pk}/"
    assert body["summary"]["groups"] == [] and len(body["summary"]["cells"]) == 1


def test_it_shows_an_outsider_nothing(outsider, both):
    body = _get(client_for(outsider), both + "&cells=1,2")
    assert body["groups"] == [] and body["cells"] == [] and body["summary"]["cells"] == []


def test_it_answers_an_empty_selection_and_a_cell_without_data(viewer, project, study):
    api = client_for(viewer)
    assert _get(api, "")["cells"] == []
    empty = CellFactory(project=project, name="EMPTY-01", group=study["bare"])
    body = _get(api, f"cells={empty.pk}")
    assert body["cells"][0]["cycle"] == [] and body["summary"]["cells"][0]["initial_ce_percent"] is None
    bare = _get(api, f"groups={study['bare'].pk}")
    assert bare["groups"][0]["n_cells"] == 4 and bare["groups"][0]["discharge_mah_g"]["n"][0] == 3


def test_it_needs_the_same_number_of_queries_for_more_cells(viewer, project, study):
    api = client_for(viewer)
    coated = study["coated"]
    _get(api, "")  # warm the user's permission cache
    with CaptureQueriesContext(connection) as small:
        _get(api, f"groups={coated.pk}")
    for rep in (4, 5, 6):
        cell = CellFactory(project=project, group=coated, name=f"LNTO-{rep:02d}", replicate_number=rep)
        ingest(cell, export_bytes("coated", rep, 12), f"{cell.name}.xlsx")
    with CaptureQueriesContext(connection) as large:
        body = _get(api, f"groups={coated.pk},{study['bare'].pk}")
    assert len(body["cells"]) == 9
    assert len(large.captured_queries) == len(small.captured_queries) == 4  # groups, cells, cycles, R_int
    cycle_queries = [q for q in large.captured_queries if "cycling_cyclesummary" in q["sql"]]
    assert len(cycle_queries) == 1
    assert len([q for q in large.captured_queries if "impedance_eisfit" in q["sql"]]) == 1


def test_it_keeps_the_payload_small(viewer, both):
    resp = client_for(viewer).get(f"/api/v1/compare/?{both}")
    assert len(resp.content) < 30_000
    text = resp.content.decode()
    assert "voltage_v" not in text  # no per-record data
    body = json.loads(text)
    assert all(len(str(v).split(".")[-1]) <= 3 for v in body["groups"][0]["discharge_mah_g"]["mean"])


def test_it_serves_the_summary_alone(viewer, both):
    summary = _get(client_for(viewer), both, path="/api/v1/compare/summary/")
    assert [c["key"] for c in summary["columns"]][:3] == ["initial_ce_percent", "first_charge_mah_g",
                                                           "first_discharge_mah_g"]
    assert "ICE (%)" == summary["columns"][0]["label"] and len(summary["cells"]) == 6


def test_it_documents_the_compare_api_without_schema_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/compare/:" in text and "/api/v1/compare/summary/:" in text and "reference_cycle" in text
