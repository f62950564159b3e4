"""One definition of each metric: the cell list (and its download), the cell page, compare (API, download, dataset),
the board, the rules and `manage.py summarize` agree on a cell's retention and decay, each naming its reference
cycle, the project's when it sets one; a discharge-first cell's retention is on its charge (its delivered half)."""
import csv
import io
import json
import zipfile

import pytest
from django.core.management import call_command

from cycling.analysis import fade, run_metrics, summarize_cycles
from cycling.simulate import simple_spec, simulate_cell
from cycling.testing import land_rounded
from tests.factories import CellFactory
from tests.helpers import ingest
from tests.landfiles import land_bytes

pytestmark = pytest.mark.django_db


def _expected(cell, records, **refs) -> dict:
    """The pure core on the same records with the cell's build facts: what every face must show."""
    from cycling.services import cell_spec

    return run_metrics(summarize_cycles(land_rounded(records), cell_spec(cell)), **refs)


def _csv(resp) -> list[dict]:
    return list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))


def _faces(cell, web, api, viewer, tmp_path, data: bytes, summarize_args=()) -> dict:
    """Retention, decay and their reference cycles as each face reports them (None where a face has no decay)."""
    from lab.dataset import dataset_zip
    from monitoring import rules
    from monitoring.models import RunState
    from monitoring.selectors import cell_cycle_frame
    from monitoring.services import cell_evaluate, cell_facts

    out = {}
    listed = next(c for c in web.get("/").context["page"].object_list if c.pk == cell.pk)
    out["cell list"] = (listed.retention_percent, listed.retention_reference_cycle, None, None)
    row = next(r for r in _csv(web.get("/?format=csv")) if r["Cell"] == cell.name)
    out["cell list download"] = (float(row["Retention at latest cycle (% of the reference cycle)"]),
                                 int(row["Retention reference cycle"]), None, None)
    fade_ = web.get(f"/cells/{cell.pk}/").context["fade"]
    out["cell page"] = (fade_["retention_percent"], fade_["retention_reference_cycle"],
                        fade_["decay_percent_per_cycle"], fade_["decay_reference_cycle"])
    body = api.get(f"/api/v1/compare/?cells={cell.pk}").json()
    summary = body["summary"]["cells"][0]
    out["compare summary"] = (summary["retention_percent"], summary["retention_reference_cycle"],
                              summary["decay_percent_per_cycle"], summary["decay_reference_cycle"])
    series = body["cells"][0]
    out["compare curve"] = (series["retention_percent"][-1], series["retention_reference_cycle"], None, None)
    row = _csv(web.get(f"/compare/export/?table=cells&cells={cell.pk}&format=csv"))[0]
    out["compare download"] = (float(row["Retention at last cycle (%)"]), int(row["Retention reference cycle"]),
                               float(row["Decay (%/cycle)"]), int(row["Decay reference cycle"]))
    with zipfile.ZipFile(io.BytesIO(b"".join(dataset_zip(viewer, [cell], records=())))) as zf:
        row = next(csv.DictReader(io.StringIO(zf.read("summary-cells.csv").decode())))
    out["dataset"] = (float(row["Retention at last cycle (%)"]), int(row["Retention reference cycle"]),
                      float(row["Decay (%/cycle)"]), int(row["Decay reference cycle"]))
    cell_evaluate(cell_id=cell.pk)
    run = RunState.objects.get(cell=cell)
    out["board"] = (run.retention_percent, run.reference_cycle, None, None)
    frame = cell_cycle_frame(cell)
    from django.utils import timezone

    facts = cell_facts(cell, frame, now=timezone.now(), finished_at=None)
    found = rules.evaluate(frame, facts, {rules.RETENTION: 1000.0})  # every cycle is below 1000 %: always raised
    out["rules"] = (found[0].values["latest_retention_percent"], found[0].values["reference_cycle"], None, None)
    path = tmp_path / f"{cell.name}.xlsx"
    path.write_bytes(data)
    printed = io.StringIO()
    call_command("summarize", str(path), "--active-mass-mg", str(cell.active_mass_mg), "--theoretical-mah-g",
                 str(cell.effective_theoretical_mah_g), *summarize_args, stdout=printed)
    run_ = json.loads(printed.getvalue())["run"]
    out["summarize"] = (run_["retention_percent"], run_["retention_reference_cycle"], run_["decay_percent_per_cycle"],
                        run_["decay_reference_cycle"])
    return out


# Decimals each face shows (None: unrounded).
ROUNDING = {"cell list": None, "cell list download": 1, "cell page": None, "compare summary": (1, 3),
            "compare curve": 2, "compare download": (1, 3), "dataset": (1, 3), "board": None, "rules": 4,
            "summarize": None}


def _assert_agree(faces: dict, expected: dict):
    for face, (ret, ref, decay, decay_ref) in faces.items():
        digits = ROUNDING[face]
        r_dec, d_dec = digits if isinstance(digits, tuple) else (digits, digits)
        want = expected["retention_percent"] if r_dec is None else round(expected["retention_percent"], r_dec)
        assert ret == pytest.approx(want, rel=1e-9), face
        assert ref == expected["retention_reference_cycle"], face
        if decay is not None:
            want = expected["decay_percent_per_cycle"]
            assert decay == pytest.approx(want if d_dec is None else round(want, d_dec), rel=1e-9), face
            assert decay_ref == expected["decay_reference_cycle"], face


def test_every_face_agrees_on_retention_and_decay_naming_the_reference(imported_cell, web, api, viewer, tmp_path,
                                                                          study_records, study_workbook):
    cell = imported_cell
    expected = _expected(cell, study_records)
    # The study's definitions: retention against the first long-term cycle, decay against cycle 1.
    assert expected["retention_reference_cycle"] == 3 and expected["decay_reference_cycle"] == 1
    assert 85.0 < expected["retention_percent"] < 100.0
    faces = _faces(cell, web, api, viewer, tmp_path, study_workbook)
    assert len(faces) == 10
    _assert_agree(faces, expected)


def test_a_projects_reference_cycles_reach_every_face(project, imported_cell, web, api, viewer, tmp_path,
                                                      study_records, study_workbook):
    cell = imported_cell
    web.get("/")  # the cell list stores the figures against the default references first
    project.retention_reference_cycle, project.decay_reference_cycle = 10, 5
    project.save()
    expected = _expected(cell, study_records, reference_cycle=10, decay_reference_cycle=5)
    default = _expected(cell, study_records)
    assert expected["retention_reference_cycle"] == 10 and expected["decay_reference_cycle"] == 5
    assert expected["retention_percent"] != pytest.approx(default["retention_percent"], abs=0.05)
    faces = _faces(cell, web, api, viewer, tmp_path, study_workbook,
                   summarize_args=("--reference-cycle", "10", "--decay-reference-cycle", "5"))
    _assert_agree(faces, expected)
    html = web.get(f"/cells/{cell.pk}/").content.decode()
    assert "vs reference cycle 10 (the project's reference)" in html and "vs cycle 5 (the project's reference)" in html


def test_the_cell_list_measures_a_discharge_first_cell_on_its_charge(project, web):
    cell = CellFactory(project=project, name="DISCHARGE-FIRST", first_half="discharge")
    n = 20
    charge = tuple(150.0 - 1.5 * i for i in range(n))  # the delivered half fades to 121.5 mAh/g
    discharge = (150.0,) * n                            # the first half stays
    spec = simple_spec(n, charge_mah_g=charge, discharge_mah_g=discharge, first_half="discharge", c_rates=1.0 / 3.0,
                       points_per_half_cycle=20)
    assert ingest(cell, land_bytes(simulate_cell(spec)), "dfirst.xlsx").status == "imported"
    from cycling.models import CellFigures

    stored = CellFigures.objects.get(cell=cell)  # stored by the ingest itself, before any page asked
    assert stored.data_version == type(cell).objects.get(pk=cell.pk).data_version
    listed = next(c for c in web.get("/").context["page"].object_list if c.pk == cell.pk)
    page = web.get(f"/cells/{cell.pk}/").context["fade"]
    assert page["capacity_half"] == "charge"
    assert listed.retention_percent == pytest.approx(page["retention_percent"], rel=1e-9)
    assert listed.retention_reference_cycle == page["retention_reference_cycle"] == 1
    # About 121.5 / 150: the charge's fade, not the flat discharge (100 %), which the old SQL reported.
    assert listed.retention_percent == pytest.approx(121.5 / 150.0 * 100.0, abs=0.5)
    assert stored.retention_percent == pytest.approx(listed.retention_percent, rel=1e-9)


def test_retention_and_decay_name_their_reference_cycles():
    cyc = [1, 2, 3, 4, 5]
    cap = [200.0, 160.0, 150.0, 140.0, 120.0]
    got = fade.retention(cyc, cap, 3)
    assert got["retention_reference_cycle"] == 3 and got["retention_percent"] == pytest.approx(80.0)
    assert fade.retention(cyc, cap, 9)["retention_percent"] is None  # a reference the cell never reached
    assert fade.cycles_to_percent(cyc, cap, 2, 80.0) == 3  # 120 < 128 first at cycle 5, 3 cycles after 2
    d = fade.decay(cyc, cap, ["formation", "long-term", "long-term", "long-term", "long-term"])
    # (200 - 120) / 200 / 4 long-term cycles after cycle 1 = 10 %/cycle
    assert d == {"decay_reference_cycle": 1, "decay_last_cycle": 5, "decay_cycles": 4,
                 "decay_percent_per_cycle": pytest.approx(10.0)}
    assert fade.initial_ce(cyc, [80.0, 99.0, 99.5, 99.6, 99.7]) == {"ice_cycle": 1, "initial_ce_percent": 80.0}


def test_the_long_term_rate_is_the_label_most_long_term_cycles_ran_at():
    import pandas as pd

    from cycling.analysis import long_term_rate_label

    cycles = pd.DataFrame({"segment": ["formation", "formation", "rate", "long-term", "long-term", "long-term"],
                           "c_rate_label": ["0.1C", "0.1C", "1C", "C/3", "C/3", "1C"]})
    assert long_term_rate_label(cycles) == "C/3"  # formation's two 0.1C cycles do not count
    tie = cycles.assign(c_rate_label=["0.1C", "0.1C", "1C", "C/3", "1C", None])
    assert long_term_rate_label(tie) == ""  # one each of C/3, 1C and unlabelled: the first in sort order, ''
    assert long_term_rate_label(cycles[cycles["segment"] != "long-term"]) == ""
