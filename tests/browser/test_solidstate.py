"""The solid-state lab in chromium: electrolyte batch -> its pellet series -> the Arrhenius plot -> the CCD cell
-> a full cell built from the batch, on the demo's LGPS batch (12 mS/cm, 0.25 eV; shorts at 0.50 mA/cm2)."""
import math
import re

import pytest

from cells.models import Cell
from solidstate.demo import BATCH, PELLET, SYMMETRIC, load_solid_registry, solid_demo_files
from tests.browser.test_pages import login, study_site  # noqa: F401 - fixture
from tests.solidstate.test_pages import _ingest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def plot(page, el_id):
    return page.evaluate("""(id) => { const el = document.getElementById(id);
        return {names: el.data.map(t => t.name), x: el.data.map(t => Array.from(t.x || [])),
                y: el.data.map(t => Array.from(t.y || [])), xtitle: el.layout.xaxis.title.text,
                shapes: (el.layout.shapes || []).length}; }""", el_id)


def test_it_walks_batch_pellets_arrhenius_ccd_cell_and_a_full_cell(page, study_site, screenshots):  # noqa: F811
    load_solid_registry()
    for cell_name, kind, name, notes, data in solid_demo_files():
        assert _ingest(Cell.objects.get(name=cell_name), kind, name, notes, data).status == "imported"
    base = study_site["url"]
    login(page, base)
    page.click("nav >> text=Electrolytes")
    page.click(f"#batches >> text={BATCH}")
    page.wait_for_selector("#plot-arrhenius .js-plotly-plot, #plot-arrhenius.js-plotly-plot", timeout=30_000)

    # the pellet series: six temperatures, total only (LGPS's bulk arc is above the band)
    rows = page.locator("#pellet-points tbody tr")
    assert rows.count() == 6
    assert [float(rows.nth(k).locator("td").nth(2).inner_text().split()[0]) for k in range(6)] == [25, 35, 45, 55, 65, 80]
    assert "total only" in rows.nth(0).inner_text()
    assert float(page.locator("#sigma-25c").inner_text()) == pytest.approx(12.0, rel=0.03)
    assert float(page.locator("#ea-ev").inner_text()) == pytest.approx(0.25, abs=0.01)

    # the Arrhenius plot: log10(sigma T) vs 1000/T with the fit line
    arr = plot(page, "plot-arrhenius")
    assert arr["names"][0] == PELLET and arr["names"][1].startswith("fit: Ea = 0.2")
    assert arr["xtitle"] == "1000 / T (1/K)"
    assert arr["x"][0][0] == pytest.approx(1000 / 298.15, rel=1e-6)
    assert arr["y"][0][0] == pytest.approx(math.log10(0.012 * 298.15), abs=0.02)
    page.screenshot(path=str(screenshots / "electrolyte_batch.png"), full_page=True)

    # the CCD: 0.50 mA/cm2, the short marked on the voltage trace
    assert page.locator("#ccd-results .ccd-value").inner_text() == "0.50"
    ccd = plot(page, "plot-ccd")
    assert ccd["names"][0] == SYMMETRIC and "CCD 0.50 mA/cm²" in ccd["names"][1] and ccd["shapes"] == 1
    page.click(f"#ccd-results >> text={SYMMETRIC}")
    page.wait_for_selector("h1")
    assert SYMMETRIC in page.locator("h1").inner_text()
    page.go_back()

    # a full cell built from the batch shows the batch's conductivity
    page.click("#built-from >> text=BARE-01")
    page.wait_for_selector("#batch-conductivity")
    text = page.locator("#batch-conductivity").inner_text()
    found = re.search(r"σ\(25 °C\) = ([\d.]+) mS/cm, Ea = ([\d.]+) eV", text)
    assert BATCH in text and found, text
    assert float(found[1]) == pytest.approx(12.0, rel=0.03) and float(found[2]) == pytest.approx(0.25, abs=0.01)
    page.click(f"#batch-conductivity >> text={BATCH}")
    page.wait_for_selector("#pellet-points")
    assert page.js_errors == []
