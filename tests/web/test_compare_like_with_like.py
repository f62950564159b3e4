"""Compare like with like on the demo's protocols: LNTO-01 runs a rate test (cycles 3-17), its replicates and
the bare cells do not, and the cells end at different cycles (40, 40, 36 coated; 30 bare)."""
from functools import lru_cache

import pytest

from cells.demo import COATED, load_study_registry
from lab.compare import shade
from tests.conftest import client_for
from tests.helpers import ingest
from tests.landfiles import study_export

pytestmark = pytest.mark.django_db

RATE_TEST = (3, 17)  # formation 1-2, then 0.1/0.2/0.5/1/0.1C x 3 cycles


@lru_cache(maxsize=8)
def _export(group: str, replicate: int, n_cycles: int, rate_test: bool) -> bytes:
    return study_export(group, n_cycles=n_cycles, replicate=replicate, points=12, rate_test=rate_test,
                        cv_points=3)[0]


@pytest.fixture
def demo(project):
    cells = load_study_registry()
    for cell in cells:
        coated = cell.group.name == COATED
        n = (36 if cell.replicate_number == 3 else 40) if coated else 30
        ingest(cell, _export("coated" if coated else "bare", cell.replicate_number, n, cell.name == "LNTO-01"),
               f"{cell.name}.xlsx")
    groups = {c.group.name: c.group for c in cells}
    return f"groups={groups[COATED].pk},{groups['bare'].pk}"


def _get(user, query):
    resp = client_for(user).get(f"/api/v1/compare/?{query}")
    assert resp.status_code == 200, resp.content
    return resp.json()


def test_it_draws_rate_bars_from_the_rate_test_only(viewer, demo):
    body = _get(viewer, demo)
    rc = body["rate_capability"]
    assert rc["labels"] == ["0.1C", "0.2C", "C/3", "0.5C", "1C"]
    coated, bare = rc["groups"]
    mean = dict(zip(rc["labels"], coated["mean"], strict=True))
    assert mean["C/3"] >= mean["0.5C"] >= mean["1C"]
    assert mean["0.1C"] == pytest.approx(159.2, abs=0.1)  # the rate test's 0.1C steps, not formation
    assert mean["0.5C"] == pytest.approx(127.6, abs=0.1) and mean["1C"] == pytest.approx(104.7, abs=0.1)
    assert mean["C/3"] == pytest.approx(139.7, abs=0.2)  # the first three long-term cycles after the test
    assert coated["n"] == [1, 1, 1, 1, 1]  # one cell ran the rate test
    assert bare["n"] == [0] * 5 and bare["mean"] == [None] * 5
    [cell] = rc["cells"]
    assert cell["name"] == "LNTO-01" and cell["n_cycles"] == [6, 3, 3, 3, 3]
    assert (cell["from"], cell["to"]) == (3, 20)
    assert sorted(rc["unrated_cells"]) == ["BARE-01", "BARE-02", "BARE-03", "LNTO-02", "LNTO-03"]
    assert any("No rate test (no rate bars): " in note and "BARE-01" in note for note in body["summary"]["figures"])


def test_it_leaves_one_replicates_rate_test_out_of_the_group_mean(viewer, demo):
    coated = _get(viewer, demo)["groups"][0]
    cap = coated["discharge_mah_g"]
    n = dict(zip(coated["cycle"], cap["n"], strict=True))
    assert [n[c] for c in range(RATE_TEST[0], RATE_TEST[1] + 1)] == [2] * 15
    assert n[2] == 3 and n[18] == 3 and n[36] == 3 and n[37] == 2 and n[40] == 2
    # No spike: where the same cells stand behind two cycles the mean moves by well under 1 mAh/g; where a
    # cell joins or leaves, by less than the replicates' scatter (LNTO-01's 1C steps would pull it down ~12).
    mean = dict(zip(coated["cycle"], cap["mean"], strict=True))
    same = [abs(mean[c + 1] - mean[c]) for c in range(3, 40) if n[c + 1] == n[c]]
    joined = [abs(mean[c + 1] - mean[c]) for c in range(3, 40) if n[c + 1] != n[c]]
    assert max(same) < 1.0 and len(joined) == 2 and max(joined) < 4.0
    cov = coated["coverage"]
    assert cov["rate_test_left_out"] == [{"cell": "LNTO-01", "from": 3, "to": 17}]
    assert (cov["from"], cov["to"], cov["max_n"], cov["all_cells_to"]) == (1, 40, 3, 36)


def test_it_aligns_cells_on_the_long_term_segment(viewer, demo):
    body = _get(viewer, demo + "&align=long-term")
    assert body["selection"]["align"] == "long-term"
    coated = body["groups"][0]
    lnto1 = next(c for c in body["cells"] if c["name"] == "LNTO-01")
    assert lnto1["cycle"][0] == 1 and len(lnto1["cycle"]) == 40 - 17 and lnto1["first_long_term_cycle"] == 18
    # Long-term cycle 1 is each cell's first C/3 cycle: all three there, LNTO-01 drops out after 23.
    n = dict(zip(coated["cycle"], coated["discharge_mah_g"]["n"], strict=True))
    assert n[1] == 3 and n[23] == 3 and n[24] == 2 and coated["cycle"][-1] == 38
    first = coated["discharge_mah_g"]["mean"][0]
    assert first == pytest.approx(139.8, abs=4)  # the replicates scatter ~2 % around the study's 139.8
    assert "long-term cycles 1–38" in body["summary"]["figures"][0]


def test_it_states_each_figures_n_and_cycle_range(viewer, demo):
    body = _get(viewer, demo)
    coated_note, bare_note = body["summary"]["figures"][:2]
    assert coated_note.startswith("LNTO-coated curves: mean of up to 3 of 3 cells over cycles 1–40")
    assert "all 3 cells up to cycle 36" in coated_note and "rate-test cycles 3–17 of LNTO-01 left out" in coated_note
    assert bare_note.startswith("bare curves: mean of up to 3 of 3 cells over cycles 1–30")
    row = body["summary"]["groups"][0]
    # Run lengths differ: the range, no mean of 40, 40 and 36.
    assert row["last_cycle"] is None and (row["last_cycle_min"], row["last_cycle_max"]) == (36, 40)
    assert row["retention_percent_n"] == 3 and row["r_int_ohm_n"] == 0


def test_it_shades_a_groups_cells_within_its_hue(viewer, demo):
    body = _get(viewer, demo)
    coated = [c for c in body["cells"] if c["group"] == COATED]
    colors = [c["color"] for c in coated]
    assert len(set(colors)) == 3 and colors[1] == coated[1]["group_color"].lower()
    assert shade("#2459c5", 0, 3) == "#173a80" and shade("#2459c5", 2, 3) == "#7193d9"
    assert shade("#2459c5", 0, 1) == "#2459c5"
