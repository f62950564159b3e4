"""End to end in chromium: log in, compare coated vs bare, read the plots' traces and the summary, change the
reference cycle, download the CSV; the cell list and a cell page; screenshots for a human look."""
import csv
import io
import re

import pytest

from tests.factories import UserFactory
from tests.web.helpers import load_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def study_site(live_server):
    from cells.demo import STUDY_PROJECT
    from cells.models import Project
    from cells.roles import VIEWER, ensure_roles

    ensure_roles()  # transactional tests flush the role groups made by migrate
    study = load_study(n_cycles=12)
    user = UserFactory(username="alice", roles=[VIEWER])
    Project.objects.get(name=STUDY_PROJECT).members.add(user)
    return {**study, "url": live_server.url}


def login(page, base):
    page.goto(f"{base}/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-for-tests-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def traces(page):
    return page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => ({
        id: el.id, names: el.data.map(t => t.name), n: el.data.length}))""")


def summary_cells(page):
    return page.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll('#summary-cells tbody tr'))
        .map(tr => [tr.dataset.cell, Object.fromEntries(Array.from(tr.querySelectorAll('td[data-key]'))
        .map(td => [td.dataset.key, td.textContent])) ]))""")


def test_it_compares_coated_with_bare_in_a_browser(page, study_site, screenshots):
    base = study_site["url"]
    login(page, base)
    page.screenshot(path=str(screenshots / "cells.png"), full_page=True)
    assert page.locator("table.cells tbody tr").count() == 6

    page.click("nav >> text=Compare")
    page.check(f"input[name=groups][value='{study_site['coated'].pk}']")
    page.check(f"input[name=groups][value='{study_site['bare'].pk}']")
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector("body[data-compare-ready='1']", timeout=30_000)
    assert f"groups={study_site['coated'].pk}" in page.url  # the selection lives in the address

    plots = {p["id"]: p["names"] for p in traces(page)}
    assert set(plots) == {"plot-capacity", "plot-ce", "plot-retention", "plot-profiles", "plot-dqdv"}
    assert "LNTO-coated (mean of ≤ 3 cells)" in plots["plot-capacity"] and "bare (mean of ≤ 3 cells)" in plots["plot-capacity"]
    assert "LNTO-coated min–max" in plots["plot-capacity"]
    # No cell ran a rate test (formation, then C/3): no rate bars, said in words.
    assert "No rate test in this selection" in page.locator("#plot-rate").text_content()
    # n per point in the hover: the mean trace carries [sd, n] per cycle.
    n_hover = page.evaluate("""() => { const t = document.getElementById('plot-capacity').data
        .find(d => d.name === 'LNTO-coated (mean of ≤ 3 cells)'); return [t.customdata[0][1], t.hovertemplate]; }""")
    assert n_hover[0] == 3 and "n=%{customdata[1]}" in n_hover[1]
    notes = page.locator("#compare-figure-notes li").all_text_contents()
    assert notes[0].startswith("LNTO-coated curves: mean of up to 3 of 3 cells over cycles 1–12")
    assert "LNTO-01 · cycle 1" in plots["plot-profiles"] and "BARE-01 · cycle 12" in plots["plot-dqdv"]
    ytitle = page.evaluate("() => document.getElementById('plot-capacity').layout.yaxis.title.text")
    assert ytitle == "Discharge capacity (mAh/g)"
    assert page.locator("#plot-capacity .modebar-btn[data-title='Download plot as SVG']").count() == 1

    rows = summary_cells(page)
    assert float(rows["LNTO-01"]["initial_ce_percent"]) == pytest.approx(85.8, abs=0.2)
    assert float(rows["BARE-01"]["initial_ce_percent"]) == pytest.approx(54.5, abs=0.2)
    group_ice = page.locator("#summary-groups tbody tr[data-group='LNTO-coated'] td[data-key=initial_ce_percent]")
    assert re.fullmatch(r"8\d\.\d ± \d\.\d", group_ice.text_content())
    page.screenshot(path=str(screenshots / "compare.png"), full_page=True)

    # Individual cells instead of the mean: a client-side toggle kept in the address.
    page.check("input[name=show][value=cells]")
    assert "show=cells" in page.url
    names = {p["id"]: p["names"] for p in traces(page)}["plot-capacity"]
    assert {"LNTO-01", "LNTO-02", "BARE-03"} <= set(names)

    before = rows["LNTO-01"]["retention_percent"]
    page.fill("input[name=reference_cycle]", "1")
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector("body[data-compare-ready='1']", timeout=30_000)
    assert "reference_cycle=1" in page.url
    after = summary_cells(page)["LNTO-01"]
    assert after["retention_reference_cycle"] == "1" and float(after["retention_percent"]) < float(before)
    ret_title = page.evaluate("() => document.getElementById('plot-retention').layout.yaxis.title.text")
    assert ret_title == "Retention (% of cycle 1)"

    with page.expect_download() as info:
        page.click("#export-cells-csv")
    download = info.value
    assert download.suggested_filename == "compare-cells-summary.csv"
    rows = {r["Cell"]: r for r in csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8-sig").read()))}
    assert float(rows["LNTO-01"]["ICE (%)"]) == pytest.approx(85.8, abs=0.05)
    assert rows["LNTO-01"]["Retention reference cycle"] == "1"
    assert float(rows["LNTO-01"]["Retention at last cycle (%)"]) == pytest.approx(float(after["retention_percent"]), abs=0.05)
    assert page.js_errors == []


def test_it_shows_a_cells_plots_and_live_file_status(page, study_site, screenshots):
    from cycling.models import DataFile

    base = study_site["url"]
    cell = study_site["cells"][0]
    stuck = DataFile.objects.create(cell=cell, file="datafiles/late.bin", original_name="late.xlsx", size_bytes=1,
                                    sha256="a" * 64, status=DataFile.Status.PARSING, progress_percent=40)
    login(page, base)
    page.goto(f"{base}/cells/{cell.pk}/")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 3", timeout=30_000)
    plots = {p["id"]: p["names"] for p in traces(page)}
    assert plots["plot-cycles"] == ["Discharge capacity", "Charge capacity", "Coulombic efficiency"]
    assert plots["plot-voltage"] == ["Cycle 1", "Cycle 2", "Cycle 10", "Cycle 12"]
    bands = page.evaluate("() => document.getElementById('plot-cycles').layout.annotations.map(a => a.text)")
    assert bands == ["0.1C · formation", "C/3 · long-term"]
    assert page.evaluate("() => document.getElementById('plot-cycles').layout.yaxis2.title.text") == "Coulombic efficiency (%)"
    row = page.locator(f"tr[data-id='{stuck.pk}']")
    assert row.get_attribute("data-status") == "parsing"
    assert page.locator("#upload-form").count() == 0  # a viewer cannot upload
    page.screenshot(path=str(screenshots / "cell.png"), full_page=True)

    # The worker finishes: the page notices within a poll or two, without a reload.
    DataFile.objects.filter(pk=stuck.pk).update(status=DataFile.Status.FAILED, progress_percent=100,
                                                error="late.xlsx: the workbook has no Record sheet.")
    page.wait_for_selector(f"tr[data-id='{stuck.pk}'][data-status='failed']", timeout=10_000)
    assert "no Record sheet" in page.locator(f"tr.detail[data-for='{stuck.pk}']").text_content()

    page.fill("#cycle-choice input[name=cycles]", "1,last")
    page.click("#cycle-choice button[type=submit]")
    # Charge and discharge of each cycle: two traces, one legend entry, discharge drawn negative.
    page.wait_for_function("() => document.getElementById('plot-dqdv').data.length === 4", timeout=10_000)
    dqdv = page.evaluate("""() => document.getElementById('plot-dqdv').data.map(t => [t.name, t.showlegend,
        Math.max(...t.y.filter(v => v !== null)), Math.min(...t.y.filter(v => v !== null))])""")
    assert [d[0] for d in dqdv] == ["Cycle 1", "Cycle 1", "Cycle 12", "Cycle 12"]
    assert [d[1] for d in dqdv] == [True, False, True, False]
    assert dqdv[0][2] > 0 and dqdv[1][3] < 0 and dqdv[1][2] <= 0
    assert page.js_errors == []
