"""Delivery through real local servers: an aiosmtpd SMTP server, an http.server webhook receiver; a dead SMTP
server neither blocks nor fails the ingest, and the e-mail goes out on a later retry."""
import hashlib
import hmac
import json
import threading
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from cycling.models import DataFile
from monitoring import rules, services
from monitoring.models import Alert, Delivery, Subscription, Webhook
from tests.hardening.procs import free_port
from tests.monitoring.conftest import ending_at, land_bytes, recent
from tests.web.helpers import ingest as ingest_bytes

pytestmark = pytest.mark.django_db


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def smtp_settings(settings):
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.ASSB_SITE_URL = "https://lab.example"
    return port


def start_smtp(port):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


@pytest.fixture
def subscribed(researcher, project):
    researcher.email = "researcher@lab.example"
    researcher.save()
    return Subscription.objects.create(user=researcher, project=project, email=True, kinds=[rules.RETENTION])


def ingest_fading(cell, fading_records, capture):
    with capture(execute=True):
        return ingest_bytes(cell, land_bytes(ending_at(fading_records[0], recent(1))), "LNTO-01.xlsx")


def test_it_emails_a_subscriber_through_a_real_smtp_server(
        cell, subscribed, smtp_settings, fading_records, eager_celery, django_capture_on_commit_callbacks):
    controller, inbox = start_smtp(smtp_settings)
    try:
        ingest_fading(cell, fading_records, django_capture_on_commit_callbacks)
    finally:
        controller.stop()
    alert = Alert.objects.get(cell=cell, kind=rules.RETENTION)
    assert len(inbox.messages) == 1  # only the subscribed kind: no mail for other rules
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["researcher@lab.example"]
    assert msg["Subject"] == "[assb-lab] LNTO-01: Retention below 80 % of the reference cycle (cycle 62)"
    body = msg.get_content()
    assert "retention fell below 80 % at cycle 62" in body and "Limit: 80 %" in body
    assert f"https://lab.example/cells/{cell.pk}/?cycle=62#cycle-62" in body
    assert Delivery.objects.get(alert=alert).status == Delivery.Status.SENT


def test_it_emails_the_subscribers_of_the_cells_group_and_not_of_another_group(
        cell, project, smtp_settings, fading_records, eager_celery, django_capture_on_commit_callbacks):
    from cells.roles import RESEARCHER
    from tests.factories import GroupFactory, UserFactory

    coated = GroupFactory(project=project, name="LNTO-coated")
    for name, groups in (("bare-watcher", [cell.group]), ("coated-watcher", [coated]), ("all-groups", [])):
        user = UserFactory(username=name, roles=[RESEARCHER], email=f"{name}@lab.example")
        project.members.add(user)
        services.subscription_set(user=user, project=project, in_app=True, email=True, kinds=[rules.RETENTION],
                                  groups=groups)
    controller, inbox = start_smtp(smtp_settings)
    try:
        ingest_fading(cell, fading_records, django_capture_on_commit_callbacks)  # LNTO-01 is of group "bare"
    finally:
        controller.stop()
    assert cell.group.name == "bare"
    assert sorted(rcpt for rcpts, _msg in inbox.messages for rcpt in rcpts) == [
        "all-groups@lab.example", "bare-watcher@lab.example"]
    assert all("LNTO-01: Retention below 80 %" in msg["Subject"] for _rcpt, msg in inbox.messages)


def test_it_still_imports_when_smtp_is_down_and_retries_the_email_later(
        cell, subscribed, smtp_settings, fading_records, eager_celery, django_capture_on_commit_callbacks):
    datafile = ingest_fading(cell, fading_records, django_capture_on_commit_callbacks)  # nothing listens
    assert datafile.status == DataFile.Status.IMPORTED
    delivery = Delivery.objects.get(alert__cell=cell, channel=Delivery.Channel.EMAIL)
    assert delivery.status == Delivery.Status.PENDING and delivery.attempts == 1
    assert "ConnectionRefusedError" in delivery.last_error
    assert services.deliveries_due() == []  # backed off: not due at once
    controller, inbox = start_smtp(smtp_settings)
    try:
        later = timezone.now() + timedelta(minutes=1)
        assert services.deliveries_due(now=later) == [delivery.pk]
        assert services.delivery_attempt(delivery_id=delivery.pk, now=later) == Delivery.Status.SENT
    finally:
        controller.stop()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT and delivery.attempts == 2
    assert len(inbox.messages) == 1 and "cycle 62" in inbox.messages[0][1]["Subject"]


def test_it_gives_up_after_the_last_attempt(cell, subscribed, smtp_settings, fading_records, eager_celery,
                                             django_capture_on_commit_callbacks, settings):
    ingest_fading(cell, fading_records, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(alert__cell=cell)
    for _ in range(services.DELIVERY_MAX_ATTEMPTS - 1):
        services.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and delivery.attempts == services.DELIVERY_MAX_ATTEMPTS


class Receiver(BaseHTTPRequestHandler):
    got = []
    answer = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append((dict(self.headers), body))
        self.send_response(Receiver.answer)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.got, Receiver.answer = [], 200
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_it_posts_a_signed_slack_style_body_to_a_webhook(
        cell, project, receiver, fading_records, eager_celery, django_capture_on_commit_callbacks, settings):
    settings.ASSB_SITE_URL = "https://lab.example"
    hook = Webhook.objects.create(project=project, name="lab channel", kinds=[rules.RETENTION],
                                  url=f"http://127.0.0.1:{receiver.server_port}/hooks/abc")
    ingest_fading(cell, fading_records, django_capture_on_commit_callbacks)
    assert len(Receiver.got) == 1
    headers, body = Receiver.got[0]
    stamp = headers["X-Assb-Timestamp"]
    expected = hmac.new(hook.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Assb-Signature"] == f"sha256={expected}"
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["text"].startswith("assb-lab alert: LNTO-01: retention fell below 80 % at cycle 62")
    fields = {f["title"]: f["value"] for f in payload["attachments"][0]["fields"]}
    assert fields["Cell"] == "LNTO-01" and fields["Cycle"] == "62" and fields["Limit"] == "80 %"
    assert fields["Rule"] == "Retention below 80 % of the reference cycle"
    assert payload["alert"]["values"]["reference_cycle"] == 3
    assert payload["alert"]["url"] == f"https://lab.example/cells/{cell.pk}/?cycle=62#cycle-62"


def test_it_retries_a_webhook_that_answers_an_error(
        cell, project, receiver, fading_records, eager_celery, django_capture_on_commit_callbacks):
    Receiver.answer = 503
    Webhook.objects.create(project=project, name="flaky", url=f"http://127.0.0.1:{receiver.server_port}/")
    ingest_fading(cell, fading_records, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(channel=Delivery.Channel.WEBHOOK, alert__kind=rules.RETENTION)
    assert delivery.status == Delivery.Status.PENDING and "HTTP 503" in delivery.last_error
    Receiver.answer = 200
    assert services.delivery_attempt(delivery_id=delivery.pk, now=timezone.now()) == Delivery.Status.SENT
    assert len([b for _h, b in Receiver.got if b"retention fell below" in b]) == 2
