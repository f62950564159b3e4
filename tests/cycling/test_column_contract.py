"""The per-cycle column contract (cycling.analysis.columns): every face shows exactly its contracted columns, the
model stores them, and exports round each to its precision. A face that drops (or adds) a column fails here."""
import csv
import io
import json
import re
import zipfile

import numpy as np
import pytest
from django.core.management import call_command
from django.db import models

from cycling.analysis import CellSpec, summarize_cycles
from cycling.analysis.columns import (
    ANALYSIS,
    CYCLE_CONTRACT,
    DATASET,
    EXPORT,
    MODEL,
    MONITORING,
    PAGE,
    SUMMARIZE,
    Column,
    columns_for,
    names_for,
    rounded,
)
from cycling.simulate import STUDY_ACTIVE_MASS_MG
from cycling.testing import land_rounded

KIND_OF_FIELD = {models.FloatField: "float", models.PositiveIntegerField: "int", models.BigIntegerField: "int",
                 models.CharField: "text", models.BooleanField: "bool"}


# --- the table itself and the pure faces ---------------------------------------------------------

def test_it_refuses_a_float_column_without_a_precision():
    with pytest.raises(ValueError, match="needs decimals"):
        Column("x_v", "V", "X", "x", None, "float", frozenset({MODEL}))
    with pytest.raises(ValueError, match="unknown face"):
        Column("x_v", "V", "X", "x", 4, "float", frozenset({"nowhere"}))


def test_it_gives_every_column_a_unit_carrying_name_and_a_description():
    for col in CYCLE_CONTRACT:
        assert col.description and col.label, col.name
        if col.unit in ("mAh", "mAh/g", "V", "s", "%"):
            suffix = {"mAh": "_mah", "mAh/g": "_mah_g", "V": "_v", "s": "_s", "%": "_percent"}[col.unit]
            assert col.name.endswith(suffix), col.name


def test_it_is_the_analysis_tables_column_list(study_records):
    cycles = summarize_cycles(study_records, CellSpec(active_mass_mg=STUDY_ACTIVE_MASS_MG))
    assert list(cycles.columns) == names_for(ANALYSIS)


def test_it_holds_the_model_to_the_contract():
    from cycling.models import CYCLE_FIELDS, CycleSummary

    fields = {f.name: f for f in CycleSummary._meta.concrete_fields if f.name not in ("id", "datafile", "cell")}
    assert set(fields) == set(names_for(MODEL)) == set(CYCLE_FIELDS)
    for col in columns_for(MODEL):
        kind = next(k for cls, k in KIND_OF_FIELD.items() if isinstance(fields[col.name], cls))
        assert kind == col.kind, col.name


def test_it_rounds_to_the_precision_of_the_measurement():
    assert rounded("discharge_mah_g", 161.39940824814775) == 161.399
    assert rounded("voltage_nowhere", 1.23456789) == 1.23456789  # not a contracted column: untouched
    assert rounded("mean_discharge_v", float("nan")) is None
    assert rounded("cycle", 7) == 7


# --- the Django faces, on one imported cell ----------------------------------------------------------

@pytest.mark.django_db
def test_the_api_and_the_page_serve_the_contracted_columns(api, imported_cell):
    rows = api.get(f"/api/v1/cells/{imported_cell.pk}/cycles/").json()
    assert len(rows) == 40
    assert list(rows[0]) == [*names_for(MODEL), "datafile"]
    assert set(names_for(PAGE)) <= set(rows[0])  # static/js/cell.js reads its columns from this endpoint
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]["CycleSummary"]["properties"]
    assert schema["discharge_mah_g"]["description"].endswith("Unit: mAh/g.")


@pytest.mark.django_db
def test_the_cycles_download_has_the_contracted_headers_rounded(web, imported_cell):
    from cycling.models import CycleSummary

    body = web.get(f"/cells/{imported_cell.pk}/cycles/export/?format=csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    headers = list(rows[0])
    assert [h for h in headers if h != "File"] == [c.header for c in columns_for(EXPORT)]
    stored = CycleSummary.objects.get(cell=imported_cell, cycle=5)
    row = rows[4]
    for col in columns_for(EXPORT):
        if col.kind != "float" or getattr(stored, col.name) is None:
            continue
        text = row[col.header]
        decimals = len(text.split(".")[1]) if "." in text else 0
        assert decimals <= col.decimals, (col.name, text)
        assert float(text) == round(getattr(stored, col.name), col.decimals), col.name


@pytest.mark.django_db
def test_the_dataset_zip_has_the_contracted_cycle_columns(viewer, imported_cell):
    from lab.dataset import dataset_zip

    data = b"".join(dataset_zip(viewer, [imported_cell], records=()))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        text = zf.read("cells/STUDY-01/cycles.csv").decode()
    header = text.splitlines()[0].split(",")
    assert header == [*names_for(DATASET), "datafile_id"]
    row = next(csv.DictReader(io.StringIO(text)))
    assert re.fullmatch(r"\d+\.\d{1,3}", row["discharge_mah_g"])  # 3 decimals, not 17 digits


@pytest.mark.django_db
def test_monitoring_reads_the_contracted_columns(imported_cell):
    from monitoring.selectors import cell_cycle_frame

    frame = cell_cycle_frame(imported_cell)
    assert set(names_for(MONITORING)) <= set(frame.columns)
    assert len(frame) == 40 and np.isfinite(frame["discharge_mah_g"]).all()


def test_summarize_prints_the_contracted_columns_rounded(tmp_path, study_records, study_workbook):
    path = tmp_path / "contract.xlsx"
    path.write_bytes(study_workbook)
    out = io.StringIO()
    call_command("summarize", str(path), "--active-mass-mg", str(STUDY_ACTIVE_MASS_MG), stdout=out)
    payload = json.loads(out.getvalue())
    first = payload["cycles"][0]
    assert list(first) == names_for(SUMMARIZE)
    expected = summarize_cycles(land_rounded(study_records), CellSpec(active_mass_mg=STUDY_ACTIVE_MASS_MG)).iloc[0]
    assert first["discharge_mah_g"] == round(float(expected["discharge_mah_g"]), 3)


def test_the_contract_and_the_metrics_import_without_django_or_scipy():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = ("import sys, cycling.analysis.columns, cycling.analysis.fade, cycling.analysis.metrics, monitoring.rules; "
            "print(sorted(m for m in sys.modules if m in ('django', 'scipy')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PATH": "", "PYTHONPATH": str(root)}, cwd=root)
    assert result.stdout.strip() == "[]"
