"""The Compare page's impedance row in chromium: R_int vs cycle and after-formation Nyquist overlays of the study
cells (1400 vs 248 ohm), the R_int columns of the summary, the show toggle and the empty state."""
import re

import pytest

from tests.browser.test_pages import login, study_site, summary_cells, traces  # noqa: F401 - fixture
from tests.factories import CellFactory
from tests.web.test_compare_eis import with_eis

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def plot(page, el_id):
    return page.evaluate("""(id) => { const el = document.getElementById(id);
        return {names: el.data.map(t => t.name), y: el.data.map(t => Array.from(t.y || [])),
                x: el.data.map(t => Array.from(t.x || [])), anchor: el.layout.yaxis.scaleanchor || null,
                xtitle: el.layout.xaxis.title.text, ytitle: el.layout.yaxis.title.text,
                title: el.layout.title.text}; }""", el_id)


def test_it_shows_r_int_and_nyquist_of_coated_and_bare_on_the_compare_page(page, study_site, screenshots):  # noqa: F811
    with_eis(study_site)
    base, coated, bare = study_site["url"], study_site["coated"].pk, study_site["bare"].pk
    login(page, base)
    page.goto(f"{base}/compare/?groups={coated}&groups={bare}")
    page.wait_for_selector("body[data-compare-ready='1']", timeout=30_000)

    ids = {p["id"] for p in traces(page)}
    assert {"plot-rint", "plot-nyquist"} <= ids
    rint = plot(page, "plot-rint")
    assert rint["names"] == ["LNTO-coated mean ± sd (n=3)", "bare mean ± sd (n=3)"]  # show=mean: groups only
    assert rint["x"][0] == [2, 100] and rint["x"][1] == [2]  # LNTO-01 was measured again after cycle 100
    assert rint["y"][0][0] == pytest.approx(248, rel=0.02) and rint["y"][1][0] == pytest.approx(1400, rel=0.02)
    assert rint["y"][0][1] == pytest.approx(400, rel=0.02)
    assert (rint["xtitle"], rint["ytitle"]) == ("Measured after cycle", "R_int (Ω)")

    nyq = plot(page, "plot-nyquist")
    assert nyq["anchor"] == "x"  # equal axis scaling
    assert (nyq["xtitle"], nyq["ytitle"]) == ("Z' (Ω)", "−Z'' (Ω)") and nyq["title"] == "Nyquist after formation"
    data = [n for n in nyq["names"] if " fit" not in n]
    assert sorted(data) == sorted(f"{c.name} · cycle 2" for c in study_site["cells"])  # one spectrum per cell
    assert len(nyq["names"]) == 12
    fits = {m[1]: float(m[2]) for m in (re.fullmatch(r"(\S+) fit \(R_int ([\d.]+) Ω\)", n) for n in nyq["names"]) if m}
    assert fits["BARE-01"] == pytest.approx(1400, rel=0.02) and fits["LNTO-01"] == pytest.approx(248, rel=0.02)
    bare_arc = max(nyq["y"][nyq["names"].index("BARE-01 · cycle 2")])
    coated_arc = max(nyq["y"][nyq["names"].index("LNTO-01 · cycle 2")])
    assert bare_arc > 3 * coated_arc > 0  # -Z'' up; the bare interface arc is far larger
    for el in ("plot-rint", "plot-nyquist"):
        assert page.locator(f"#{el} .modebar-btn[data-title='Download plot as SVG']").count() == 1
        titles = page.locator(f"#{el} .modebar-btn").evaluate_all("bs => bs.map(b => b.dataset.title)")
        assert any(t and t.lower().startswith("download plot as a png") for t in titles), titles

    rows = summary_cells(page)
    for name, golden in (("BARE-01", 1400), ("BARE-02", 1400), ("LNTO-01", 248), ("LNTO-03", 248)):
        assert float(rows[name]["r_int_ohm"]) == pytest.approx(golden, rel=0.02), name
        assert rows[name]["r_int_cycle"] == "2"
    group = {key: page.locator(f"#summary-groups tbody tr[data-group='{g}'] td[data-key=r_int_ohm]").text_content()
             for key, g in (("coated", "LNTO-coated"), ("bare", "bare"))}
    assert re.fullmatch(r"2\d\d\.\d ± \d+\.\d", group["coated"]) and re.fullmatch(r"1[34]\d\d\.\d ± \d+\.\d",
                                                                                  group["bare"])
    assert float(group["bare"].split(" ± ")[0]) == pytest.approx(1400, rel=0.02)
    assert float(group["coated"].split(" ± ")[0]) == pytest.approx(248, rel=0.02)
    headers = page.locator("#summary-cells thead th").all_text_contents()
    assert "R_int after formation (Ω)" in headers and "R_int measured after cycle" in headers
    page.locator("#compare-eis-head").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "compare_eis.png"), full_page=True)

    # Cells instead of group means: the R_int plot follows the page's show toggle.
    page.check("input[name=show][value=cells]")
    page.wait_for_function("() => document.getElementById('plot-rint').data.length === 6")
    names = plot(page, "plot-rint")["names"]
    assert set(names) == {c.name for c in study_site["cells"]}
    assert page.js_errors == []


def test_it_says_when_a_selection_has_no_eis(page, study_site):  # noqa: F811
    lonely = CellFactory(project=study_site["bare"].project, group=study_site["bare"], name="BARE-09")
    base = study_site["url"]
    login(page, base)
    page.goto(f"{base}/compare/?cells={lonely.pk}")
    page.wait_for_selector("body[data-compare-ready='1']", timeout=30_000)
    for el in ("plot-rint", "plot-nyquist"):
        assert page.locator(f"#{el} .empty").text_content() == "No EIS data for this selection."
    assert page.locator("#summary-cells td[data-key=r_int_ohm]").text_content() == "—"
    assert page.js_errors == []
