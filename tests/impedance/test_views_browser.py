"""The impedance page in chromium: Nyquist (equal axes, -Z'' up), Bode and R_int plots drawn without JS errors."""
import pytest

from tests.browser.conftest import vendored_static  # noqa: F401 - fixture
from tests.factories import CellFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_draws_nyquist_bode_and_r_int_in_a_browser(page, live_server, screenshots):
    from cells.roles import RESEARCHER, ensure_roles
    from impedance.simulate import study_spectrum, write_mpt
    from tests.conftest import client_for
    from tests.helpers import upload_and_ingest

    ensure_roles()  # transactional tests flush the role groups made by migrate
    project = ProjectFactory(name="LNTO coating study")
    user = UserFactory(username="alice", roles=[RESEARCHER])
    project.members.add(user)
    cell = CellFactory(project=project, name="BARE-01")
    api = client_for(user)
    upload_and_ingest(api, cell, write_mpt([study_spectrum("bare", seed=1)]), "BARE-01_c0.mpt")
    upload_and_ingest(api, cell, write_mpt([study_spectrum("coated", seed=2)]), "BARE-01_c100.mpt")

    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-for-tests-123")
    page.click("button[type=submit]")
    page.goto(f"{base}/cells/{cell.pk}/impedance/")
    page.wait_for_selector("#eis-rint.js-plotly-plot")
    plots = page.evaluate("""() => Object.fromEntries(['eis-nyquist', 'eis-bode', 'eis-rint', 'eis-kk'].map(id => {
        const el = document.getElementById(id);
        const main = el.data.find(t => t.name === 'BARE-01') || el.data[0];
        return [id, {n: el.data.length, names: el.data.map(t => t.name), y0: el.data[0].y.slice(0, 3),
                     anchor: el.layout.yaxis.scaleanchor, xtype: el.layout.xaxis.type, ytype: el.layout.yaxis.type,
                     rint: main.y, fills: el.data.filter(t => t.fill === 'toself').length}];
    }))""")
    assert page.js_errors == []
    nyq, bode, rint = plots["eis-nyquist"], plots["eis-bode"], plots["eis-rint"]
    assert nyq["n"] == 4 and nyq["anchor"] == "x"  # 2 spectra + 2 fit curves, equal axis scaling
    assert any(name.startswith("fit R0-p(R1,CPE1)-p(R2,CPE2)-Wo1") for name in nyq["names"])
    assert bode["xtype"] == "log" and bode["ytype"] == "log" and bode["n"] == 8
    assert rint["rint"] == pytest.approx([1400, 248], rel=0.02)
    assert rint["fills"] == 1 and "BARE-01 95 % band" in rint["names"]  # the confidence band
    kk = plots["eis-kk"]
    assert kk["xtype"] == "log" and kk["n"] == 6  # real + imaginary residuals of 2 spectra, +/- threshold
    assert any(name.endswith("Δ real") for name in kk["names"]) and any(n.endswith("Δ imag") for n in kk["names"])
    page.screenshot(path=str(screenshots / "impedance-page.png"), full_page=True)
    # un-ticking a spectrum redraws the Nyquist plot without it
    page.uncheck(".eis-show >> nth=0")
    assert page.evaluate("() => document.getElementById('eis-nyquist').data.length") == 2


def test_it_marks_a_sweep_without_r_int_on_the_r_int_plot(page, live_server):
    from cells.roles import RESEARCHER, ensure_roles
    from impedance.simulate import aborted_sweep, study_spectrum, write_mpt, write_spectrum
    from tests.conftest import client_for
    from tests.impedance.test_services import upload_and_ingest

    ensure_roles()
    project = ProjectFactory(name="LNTO coating study")
    user = UserFactory(username="bob", roles=[RESEARCHER])
    project.members.add(user)
    cell = CellFactory(project=project, name="LNTO-02")
    api = client_for(user)
    upload_and_ingest(api, cell, write_mpt([study_spectrum("coated", seed=1)]), "LNTO-02_c0.mpt")
    aborted = aborted_sweep(study_spectrum("coated", seed=2, cycle=100, inductance_h=2e-7))
    upload_and_ingest(api, cell, write_spectrum(aborted, "dta", aborted=True), "LNTO-02_c100.DTA")

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "pw-for-tests-123")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/cells/{cell.pk}/impedance/")
    page.wait_for_selector("#eis-rint.js-plotly-plot")
    traces = page.evaluate("""() => document.getElementById('eis-rint').data.map(
        t => ({name: t.name, x: Array.from(t.x), text: t.text ? Array.from(t.text) : null}))""")
    assert page.js_errors == []
    skipped = [t for t in traces if t["name"] == "LNTO-02 no R_int"]
    assert len(skipped) == 1 and skipped[0]["x"] == [100]
    assert skipped[0]["text"][0].startswith("no R_int: only 5 points for the 9 free parameters")
    main = next(t for t in traces if t["name"] == "LNTO-02")
    assert main["x"] == [0]
    row = page.locator("#eis-spectra tr[data-id]").nth(1)
    assert "no R_int" in row.inner_text() and "Only 5 points" in row.inner_text()
