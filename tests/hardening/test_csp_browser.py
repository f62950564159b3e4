"""The Content-Security-Policy in a real browser: Plotly plots and the Swagger UI still work, nothing is blocked."""
import pytest

from tests.factories import UserFactory
from tests.web.helpers import load_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("vendored")]


@pytest.fixture(scope="module")
def vendored():
    from django.core.management import call_command

    call_command("vendor_static", verbosity=0)  # Plotly and the fonts under static/vendor/


@pytest.fixture
def site(live_server):
    from cells.demo import STUDY_PROJECT
    from cells.models import Project
    from cells.roles import VIEWER, ensure_roles

    ensure_roles()
    study = load_study(n_cycles=4)
    user = UserFactory(username="alice", roles=[VIEWER])
    Project.objects.get(name=STUDY_PROJECT).members.add(user)
    return {**study, "url": live_server.url}


def watch_csp(page):
    """Collect CSP violations reported by the page itself (and console messages about them)."""
    violations = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
    page.add_init_script("""document.addEventListener('securitypolicyviolation',
        e => (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI));""")
    return violations


def test_plotly_pages_render_under_the_csp(page, site):
    violations = watch_csp(page)
    base = site["url"]
    page.goto(f"{base}/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-for-tests-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    cell = site["cells"][0]
    page.goto(f"{base}/cells/{cell.pk}/")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length > 0", timeout=30_000)
    page.goto(f"{base}/compare/?groups={site['coated'].pk}")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length > 0", timeout=30_000)
    assert not violations and not page.evaluate("() => window.__csp || []"), violations
    assert not page.js_errors


def test_the_swagger_ui_renders_under_the_csp(page, live_server, settings):
    settings.ASSB_API_DOCS_PUBLIC = True  # read anonymously (behind login is the production default)
    violations = watch_csp(page)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "assb-lab API" in page.text_content(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-tag", timeout=30_000)
    assert not violations and not page.evaluate("() => window.__csp || []"), violations
