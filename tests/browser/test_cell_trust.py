"""In chromium: a cell with an injected 2 h pause and a drifting dQ/dV peak shows the pause band on the cycle plot,
the peak voltage vs cycle with its drift, the findings and the provenance panel; screenshots for a human look."""
import io

import numpy as np
import pytest

from tests.factories import CellFactory, UserFactory
from tests.web.helpers import ingest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def paused_site(live_server, project):
    from cells.roles import VIEWER, ensure_roles
    from cycling.simulate import study_cell
    from cycling.testing import write_land

    ensure_roles()  # transactional tests flush the role groups made by migrate
    records, _ = study_cell("coated", n_cycles=40, points_per_half_cycle=40, peak_shift_mv_per_cycle=2.0)
    discharge = records.loc[(records["cycle"] == 30) & (records["step_kind"] == "discharge"), "record"].to_numpy()
    later = records["record"] >= int(discharge[21])
    records.loc[later, "test_time_s"] += 7200.0
    records.loc[later, "sys_time"] += np.timedelta64(7200, "s")
    buf = io.BytesIO()
    write_land(records, buf)
    cell = CellFactory(project=project, name="LNTO-PAUSE")
    datafile = ingest(cell, buf.getvalue(), "LNTO-PAUSE.xlsx")
    assert datafile.status == "imported", datafile.error
    user = UserFactory(username="alice", roles=[VIEWER])
    project.members.add(user)
    return {"url": live_server.url, "cell": cell, "records": (int(discharge[20]), int(discharge[21]))}


def login(page, base):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-for-tests-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_it_shows_the_pause_band_and_the_peak_drift_on_a_cell_page(page, paused_site, screenshots):
    base, cell = paused_site["url"], paused_site["cell"]
    login(page, base)
    assert page.locator("table.cells a.badge.warn").text_content() == "1 warning"
    page.goto(f"{base}/cells/{cell.pk}/")
    page.wait_for_function("() => (document.getElementById('plot-cycles').data || []).length > 0", timeout=30_000)

    cycles = page.evaluate("""() => { const el = document.getElementById('plot-cycles');
        return {names: el.data.map(t => t.name),
                pause: el.data.filter(t => t.name === 'Pause / interruption').map(t => ({x: t.x, text: t.hovertext}))[0],
                bands: el.layout.shapes.filter(s => s.name === 'pause-band').map(s => [s.x0, s.x1])}; }""")
    assert "Pause / interruption" in cycles["names"]
    assert cycles["pause"]["x"] == [30] and "Pause in cycle 30" in cycles["pause"]["text"][0]
    assert cycles["bands"] == [[29.55, 30.45]]
    # The band is drawn: a shape path in the plot's SVG with the pause fill.
    fills = page.evaluate("""() => Array.from(document.querySelectorAll('#plot-cycles .shapelayer path'))
        .map(p => p.style.fill)""")
    assert any("217, 45, 32" in f for f in fills), fills

    # The peak plot is drawn once it scrolls into view.
    page.locator("#plot-peaks").scroll_into_view_if_needed()
    page.wait_for_function("() => (document.getElementById('plot-peaks').data || []).length === 2", timeout=30_000)
    peaks = page.evaluate("""() => document.getElementById('plot-peaks').data.map(t => ({name: t.name, n: t.x.length,
        first: t.y[0], last: t.y[t.y.length - 1]}))""")
    by_name = {p["name"].split(" ")[0]: p for p in peaks}
    assert set(by_name) == {"charge-1", "discharge-1"}
    assert by_name["charge-1"]["n"] == 40
    assert by_name["charge-1"]["last"] - by_name["charge-1"]["first"] == pytest.approx(0.078, abs=0.01)  # 39 x 2 mV
    assert "mV/cycle)" in by_name["charge-1"]["name"]
    drift = page.locator("#peak-drift tr[data-peak='charge-1'] td").nth(3).text_content()
    assert float(drift) == pytest.approx(2.0, abs=0.2)

    before, after = paused_site["records"]
    finding = page.locator("tr.finding[data-code='time_gap']")
    assert f"records {before:,}–{after:,}" in finding.text_content()
    assert page.locator("dd[data-key=active_mass_mg]").text_content() == "6.597 mg"
    assert page.locator("#dqdv-csv").get_attribute("href").endswith("format=csv")
    page.screenshot(path=str(screenshots / "cell-trust.png"), full_page=True)
    page.locator("#plot-cycles").screenshot(path=str(screenshots / "cell-trust-cycles.png"))
    page.locator("#plot-peaks").screenshot(path=str(screenshots / "cell-trust-peaks.png"))
    assert page.js_errors == []
