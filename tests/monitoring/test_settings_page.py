"""Alert settings in the app: subscriptions per project and rule, e-mail only with an address, webhook test."""
import json

import pytest
from django.test import Client

from cells.models import AuditEvent
from monitoring import rules, services
from monitoring.models import Subscription, Webhook
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def web(user):
    client = Client()
    client.force_login(user)
    return client


def test_it_refuses_e_mails_without_an_address_and_says_so(researcher, project):
    resp = web(researcher).post("/settings/alerts/", {f"p{project.pk}-in_app": "on", f"p{project.pk}-email": "on"})
    assert resp.status_code == 400
    assert f"E-mails of {project.name} need your e-mail address: enter it first." in resp.content.decode()
    assert not Subscription.objects.filter(user=researcher, email=True).exists()


def test_it_saves_the_address_rules_and_channels_of_each_project(researcher, project):
    resp = web(researcher).post("/settings/alerts/", {
        "email_address": "rita@lab.example", f"p{project.pk}-email": "on",
        f"p{project.pk}-kinds": [rules.RETENTION, rules.DIED]})
    assert resp.status_code == 302
    researcher.refresh_from_db()
    assert researcher.email == "rita@lab.example"
    sub = Subscription.objects.get(user=researcher, project=project)
    assert (sub.in_app, sub.email, sub.kinds) == (False, True, sorted([rules.RETENTION, rules.DIED]))
    page = web(researcher).get("/settings/alerts/").content.decode()
    assert f'name="p{project.pk}-email" aria-label="{project.name} by e-mail" checked' in page
    assert f'value="{rules.DIED}" checked' in page and f'value="{rules.LOW_CE}" >' in page


def test_it_refuses_a_malformed_address(researcher, project):
    resp = web(researcher).post("/settings/alerts/", {"email_address": "rita at lab"})
    assert resp.status_code == 400 and "is not an e-mail address" in resp.content.decode()


def test_the_api_refuses_an_e_mail_subscription_without_an_address(researcher, project):
    resp = client_for(researcher).post("/api/v1/alert-subscriptions/", {"project": project.pk, "email": True},
                                       format="json")
    assert resp.status_code == 400 and "e-mail address" in json.dumps(resp.json())


class _Answer:
    def __init__(self, code):
        self.status_code, self.text = code, "ok" if code < 300 else "no such hook"


def test_a_lab_admin_sends_a_signed_test_to_a_webhook(lab_admin, project, monkeypatch, settings):
    import requests

    settings.ASSB_WEBHOOK_ALLOWED_HOSTS = ["hooks.example"]  # no DNS in tests

    hook = Webhook.objects.create(project=project, name="lab-slack", url="https://hooks.example/abc")
    sent = []

    def post(url, data, timeout, headers, **kwargs):
        sent.append((url, data, headers))
        return _Answer(200)

    monkeypatch.setattr(requests, "post", post)
    page = web(lab_admin).get("/settings/alerts/").content.decode()
    assert 'data-webhook="lab-slack"' in page and "Send test" in page
    resp = web(lab_admin).post(f"/settings/alerts/webhooks/{hook.pk}/test/", follow=True)
    assert "Webhook lab-slack: sent: the receiver answered HTTP 200" in resp.content.decode()
    url, body, headers = sent[0]
    assert url == "https://hooks.example/abc" and json.loads(body)["test"] is True
    assert headers["X-Assb-Signature"] == "sha256=" + services.sign(hook.secret, headers["X-Assb-Timestamp"], body)
    assert AuditEvent.objects.get(action="webhook.test").detail["ok"] is True

    monkeypatch.setattr(requests, "post", lambda url, data, timeout, headers, **kw: _Answer(404))
    resp = web(lab_admin).post(f"/settings/alerts/webhooks/{hook.pk}/test/", follow=True)
    assert "Webhook lab-slack: failed: webhook lab-slack answered HTTP 404: no such hook" in resp.content.decode()


def test_a_researcher_may_not_send_webhook_tests_and_is_told_why(researcher, project):
    hook = Webhook.objects.create(project=project, name="lab-slack", url="https://hooks.example/abc")
    resp = web(researcher).post(f"/settings/alerts/webhooks/{hook.pk}/test/")
    assert resp.status_code == 403 and "monitoring.change_webhook" in resp.content.decode()


def test_it_subscribes_to_chosen_groups_of_a_project_and_counts_only_their_alerts(researcher, project, cell):
    from monitoring.models import Alert
    from monitoring.selectors import inbox_count
    from tests.factories import CellFactory, GroupFactory

    coated = GroupFactory(project=project, name="LNTO-coated")
    other = CellFactory(project=project, name="LNTO-02", group=coated)
    page = web(researcher).get("/settings/alerts/").content.decode()
    assert f'name="p{project.pk}-groups" value="{coated.pk}"' in page and "> LNTO-coated</label>" in page
    resp = web(researcher).post("/settings/alerts/", {f"p{project.pk}-in_app": "on",
                                                      f"p{project.pk}-groups": [str(coated.pk)]})
    assert resp.status_code == 302
    sub = Subscription.objects.get(user=researcher, project=project)
    assert [g.name for g in sub.groups.all()] == ["LNTO-coated"] and sub.covers(coated.pk)
    assert not sub.covers(cell.group_id)
    page = web(researcher).get("/settings/alerts/").content.decode()
    assert f'value="{coated.pk}" aria-label="{project.name}: group LNTO-coated" checked' in page
    assert f'value="{cell.group_id}" aria-label="{project.name}: group bare" >' in page
    for c in (cell, other):  # one open alert in each group: only the subscribed group's counts
        Alert.objects.create(cell=c, kind=rules.RETENTION, cycle=62, title="Retention", message=f"{c.name}: x")
    assert inbox_count(researcher) == 1


def test_the_api_sets_groups_of_the_subscribed_project_only(researcher, project, cell, outsider):
    from tests.factories import GroupFactory

    foreign = GroupFactory(project=outsider.lab_projects.get(), name="elsewhere")
    api = client_for(researcher)
    resp = api.post("/api/v1/alert-subscriptions/", {"project": project.pk, "groups": [cell.group_id]}, format="json")
    assert resp.status_code == 201, resp.content
    assert resp.json()["groups"] == [cell.group_id]
    assert [g.pk for g in Subscription.objects.get(user=researcher).groups.all()] == [cell.group_id]
    bad = api.patch(f"/api/v1/alert-subscriptions/{resp.json()['id']}/", {"groups": [foreign.pk]}, format="json")
    assert bad.status_code == 400
    assert bad.json() == {"groups": [f"Not groups of project {project} that you may see: {foreign.pk}."]}
