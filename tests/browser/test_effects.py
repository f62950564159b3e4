"""The Effects page in chromium: pick ICE and the coating on the study, see the cells with the level means and CIs,
the table with n and cells, the screen, then export the figure as SVG."""
import pytest

from tests.browser.test_pages import login, study_site  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_picks_an_outcome_and_a_factor_sees_plot_and_table_and_exports_the_svg(page, study_site, screenshots):  # noqa: F811
    base = study_site["url"]
    login(page, base)
    page.click("nav >> text=Effects")
    page.wait_for_url(f"{base}/effects/")
    page.select_option("#effects-outcome", "initial_ce_percent")
    page.select_option("#effects-factor", "stack_pressure_mpa")
    assert not page.is_disabled("input[name=scale][value='log-log']")
    page.check("input[name=scale][value='log-log']")
    page.select_option("#effects-factor", "coating")  # categorical: no log-log fit, back to linear
    assert page.is_disabled("input[name=scale][value='log-log']")
    assert page.is_checked("input[name=scale][value=linear]")
    page.select_option("#effects-project", str(study_site["coated"].project_id))
    page.click("#effects-form button[type=submit]")
    page.wait_for_selector("#effects-status[data-state='done']", timeout=30_000)
    assert page.js_errors == []

    plot = page.evaluate("""() => { const el = document.getElementById('effect-plot');
        return el.data.map(t => ({name: t.name, y: Array.from(t.y), text: Array.from(t.text || [])})); }""")
    cells = [t for t in plot if "cells" in t["name"]]
    assert [t["name"] for t in cells] == ["none cells (n = 3)", "LNTO cells (n = 3)"]
    assert sorted(cells[1]["text"]) == ["LNTO-01", "LNTO-02", "LNTO-03"]
    means = next(t for t in plot if t["name"] == "mean ± 95 % CI")["y"]
    assert means[1] - means[0] == pytest.approx(31.7, abs=0.05)

    rows = page.locator("#effect-levels tbody tr")
    assert rows.count() == 2
    lnto = rows.nth(1).locator("td").all_text_contents()
    assert lnto[0] == "LNTO" and lnto[1] == "3" and lnto[5] == "LNTO-01, LNTO-02, LNTO-03"
    test_line = page.locator("#effect-test").text_content()
    assert "Welch's t-test" in test_line and "Hedges' g" in test_line and "Difference LNTO − none: 31.68" in test_line
    screen = page.locator("#screen-table tbody tr").first.locator("td").all_text_contents()
    assert screen[0] == "1" and screen[1] == "Coating"
    page.screenshot(path=str(screenshots / "effects.png"), full_page=True)

    with page.expect_download() as info:
        page.click("#export-svg")
    download = info.value
    assert download.suggested_filename == "effect-initial_ce_percent-coating.svg"
    svg = open(download.path(), encoding="utf-8").read()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "none: n = 3" in svg and "LNTO: n = 3" in svg and "95 % CI" in svg and "Welch" in svg

    # A screen row opens the effect of that fact.
    page.click("#screen-table tbody tr >> nth=1 >> a")
    page.wait_for_selector("#effects-status[data-state='done']", timeout=30_000)
    assert "factor=composite_loading_mg_cm2" in page.url
    assert page.evaluate("() => document.getElementById('effect-plot').data.some(t => t.name === 'OLS fit')")
    assert "cells in total" in page.locator("#effect-planning").text_content()
    assert page.js_errors == []
