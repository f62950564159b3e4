"""Webhook URLs: http(s) to a public address only (named internal hosts by setting), no redirects followed on
delivery, and the signing secret shown once, at creation."""
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from monitoring import services
from monitoring.models import Webhook
from monitoring.webhook_safety import UnsafeWebhookUrl, check_webhook_url
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

INTERNAL = [
    "http://127.0.0.1:5432/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1:6379/",
    "http://localhost:8000/admin/", "http://[::1]/", "http://192.168.1.20/hook", "http://172.16.0.5/",
    "http://0.0.0.0:8000/", "http://[fd00::1]/", "http://100.100.100.200/latest/meta-data/",
    "http://[::ffff:127.0.0.1]/", "http://2130706433/",
]


def public_dns(monkeypatch, address="93.184.216.34"):
    """hooks.example.org resolves to a public address (no network in tests)."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "hooks.example.org":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def no_allowed_hosts(settings):
    settings.ASSB_WEBHOOK_ALLOWED_HOSTS = []


@pytest.mark.parametrize("url", INTERNAL)
def test_it_refuses_internal_addresses(no_allowed_hosts, url):
    with pytest.raises(UnsafeWebhookUrl) as exc:
        check_webhook_url(url)
    assert "internal address" in str(exc.value)


@pytest.mark.parametrize("url, why", [
    ("ftp://hooks.example.org/x", "http or https"), ("file:///etc/passwd", "http or https"),
    ("gopher://hooks.example.org/", "http or https"), ("https://no-such-host.invalid/", "cannot be resolved"),
])
def test_it_refuses_other_schemes_and_unresolvable_hosts(no_allowed_hosts, url, why):
    with pytest.raises(UnsafeWebhookUrl) as exc:
        check_webhook_url(url)
    assert why in str(exc.value)


def test_it_accepts_a_public_host(no_allowed_hosts, monkeypatch):
    public_dns(monkeypatch)
    check_webhook_url("https://hooks.example.org/services/T000/B000/XXXX")


def test_it_refuses_a_public_name_that_resolves_to_an_internal_address(no_allowed_hosts, monkeypatch):
    public_dns(monkeypatch, address="10.1.2.3")
    with pytest.raises(UnsafeWebhookUrl, match="hooks.example.org resolves to the internal address 10.1.2.3"):
        check_webhook_url("https://hooks.example.org/x")


def test_it_accepts_an_internal_host_the_lab_named_in_the_setting(settings):
    settings.ASSB_WEBHOOK_ALLOWED_HOSTS = ["mattermost.lab.internal", "127.0.0.1"]
    check_webhook_url("http://127.0.0.1:8065/hooks/x")
    with pytest.raises(UnsafeWebhookUrl):
        check_webhook_url("http://localhost:8065/hooks/x")  # only the names given, not what they resolve to


@pytest.fixture
def lab_admin_api(project):
    admin = UserFactory(username="hookadmin", roles=["lab-admin"])
    project.members.add(admin)
    return client_for(admin)


@pytest.mark.parametrize("url", ["http://127.0.0.1:5432/", "http://169.254.169.254/latest/meta-data/",
                                 "http://10.0.0.1:6379/", "http://localhost:8000/admin/"])
def test_it_refuses_an_internal_webhook_url_in_the_api_with_400(no_allowed_hosts, lab_admin_api, project, url):
    resp = lab_admin_api.post("/api/v1/webhooks/", {"project": project.pk, "name": "x", "url": url}, format="json")
    assert resp.status_code == 400
    assert "internal address" in resp.json()["url"][0]
    assert not Webhook.objects.exists()


def test_it_shows_the_secret_once_at_creation_then_masked(no_allowed_hosts, monkeypatch, lab_admin_api, project):
    public_dns(monkeypatch)
    created = lab_admin_api.post("/api/v1/webhooks/", {"project": project.pk, "name": "lab",
                                                       "url": "https://hooks.example.org/x"}, format="json")
    assert created.status_code == 201, created.content
    hook = Webhook.objects.get()
    assert created.json()["secret"] == hook.secret and len(hook.secret) >= 32
    for body in (lab_admin_api.get(f"/api/v1/webhooks/{hook.pk}/").json(),
                 lab_admin_api.get("/api/v1/webhooks/").json()["results"][0]):
        assert hook.secret not in str(body)
        assert body["secret"] == "••••" + hook.secret[-4:]
    patched = lab_admin_api.patch(f"/api/v1/webhooks/{hook.pk}/", {"name": "renamed"}, format="json")
    assert patched.status_code == 200 and hook.secret not in str(patched.json())
    hook.refresh_from_db()
    assert hook.name == "renamed" and len(hook.secret) >= 32  # a masked read never overwrote the secret


class _Hop(BaseHTTPRequestHandler):
    hits = []
    location = ""

    def do_POST(self):
        _Hop.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/start":
            self.send_response(307)
            self.send_header("Location", _Hop.location)
        else:
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_it_follows_no_redirect_on_delivery_and_rechecks_the_url(settings, project, cell):
    from monitoring.models import Alert

    server = HTTPServer(("127.0.0.1", 0), _Hop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _Hop.hits, _Hop.location = [], f"http://127.0.0.1:{server.server_port}/internal-admin"
        settings.ASSB_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
        hook = Webhook.objects.create(project=project, name="hop", url=f"http://127.0.0.1:{server.server_port}/start")
        alert = Alert.objects.create(cell=cell, kind="retention", cycle=5, title="Retention", message="retention fell")
        with pytest.raises(OSError, match="HTTP 307"):
            services._post_webhook(hook, alert)
        assert _Hop.hits == ["/start"]  # the redirect target was never asked
        settings.ASSB_WEBHOOK_ALLOWED_HOSTS = []  # the setting changed since the hook was saved
        with pytest.raises(OSError, match="internal address"):
            services._post_webhook(hook, alert)
        assert _Hop.hits == ["/start"]
    finally:
        server.shutdown()
        server.server_close()


def test_it_keeps_the_stored_secret_when_a_client_sends_back_the_masked_one(no_allowed_hosts, monkeypatch, lab_admin_api, project):
    public_dns(monkeypatch)
    hook = Webhook.objects.create(project=project, name="lab", url="https://hooks.example.org/x")
    read = lab_admin_api.get(f"/api/v1/webhooks/{hook.pk}/").json()
    put = lab_admin_api.put(f"/api/v1/webhooks/{hook.pk}/", {**read, "name": "renamed"}, format="json")
    assert put.status_code == 200, put.content
    stored = Webhook.objects.get(pk=hook.pk)
    assert stored.name == "renamed" and stored.secret == hook.secret
    other = lab_admin_api.patch(f"/api/v1/webhooks/{hook.pk}/", {"secret": "••••zzzz"}, format="json")
    assert other.status_code == 400 and "masked secret" in other.json()["secret"][0]


def test_it_refuses_an_internal_url_in_the_admin_and_masks_the_secret_there(no_allowed_hosts, monkeypatch, project):
    from django.test import Client

    web = Client()
    web.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    form = {"project": project.pk, "name": "meta", "url": "http://169.254.169.254/latest/", "kinds": "[]",
            "is_active": "on"}
    page = web.post("/admin/monitoring/webhook/add/", form)
    assert page.status_code == 200 and "internal address" in page.content.decode()
    assert not Webhook.objects.exists()
    public_dns(monkeypatch)
    added = web.post("/admin/monitoring/webhook/add/", {**form, "url": "https://hooks.example.org/x"}, follow=True)
    hook = Webhook.objects.get()
    assert hook.secret in added.content.decode()  # shown once, in the message after adding
    change = web.get(f"/admin/monitoring/webhook/{hook.pk}/change/").content.decode()
    assert hook.secret not in change and "••••" + hook.secret[-4:] in change
