"""Writes of monitoring: evaluate a cell's rules into alerts and its board row, act on alerts, deliver them.

The evaluation is idempotent (run it twice, after a re-export or a reprocess: the same live alerts, no
duplicates) and is sent by the ingest on commit through `monitoring.tasks.after_ingest`; delivery happens in
its own worker tasks, so a dead SMTP server or webhook never blocks or fails an ingest.
"""
import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta

import numpy as np
from django.apps import apps
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from cells.models import Cell
from cells.services import audit
from cycling.analysis import fade
from readers import without_file

from . import rules, selectors
from .models import Alert, Delivery, RunState, Subscription, Webhook
from .webhook_safety import UnsafeWebhookUrl, check_webhook_url

log = logging.getLogger(__name__)

DELIVERY_MAX_ATTEMPTS = getattr(settings, "ASSB_ALERT_DELIVERY_MAX_ATTEMPTS", 8)
WEBHOOK_TIMEOUT_S = 10


# --- evaluation ------------------------------------------------------------------------------

def cell_facts(cell: Cell, frame, *, now: datetime, finished_at: datetime | None) -> rules.CellFacts:
    """The facts the pure rules need, from the build sheet, the data files and the impedance app."""
    from cycling.analysis import cell_metrics
    from cycling.models import DataFile
    from cycling.selectors import metric_references

    formation = int((frame["segment"] == "formation").sum()) if len(frame) else 0
    reference = None
    if len(frame):
        # The cell page's reference cycle (the project's, else the first long-term cycle, else the first):
        # the one definition, cycling.analysis.cell_metrics.
        reference = cell_metrics(frame.assign(is_partial=frame["is_partial"].fillna(False)),
                                 **metric_references(cell.project)).get("retention_reference_cycle")
    newest = cell.datafiles.order_by("-created_at").only("original_name", "status", "error").first()
    failed = None
    if newest is not None and newest.status == DataFile.Status.FAILED:
        # The stored error names the file (readers.naming_file); said here once, in front.
        reason = without_file(newest.error, newest.original_name) or "no reason recorded"
        failed = f"{newest.original_name} failed: {reason}"
    last = frame.attrs.get("last_record_at")
    # A stack-pressure channel comes from an app that offers one on its AppConfig (solidstate): no import of it.
    pressure = next((p for config in apps.get_app_configs() if hasattr(config, "monitoring_pressure")
                     for p in [config.monitoring_pressure(cell)] if p is not None), None)
    return rules.CellFacts(
        now=now, formation_cycles=formation, reference_cycle=reference, voltage_window_v=cell.cell_voltage_window_v,
        last_record_at=last, finished=bool(finished_at and (last is None or finished_at >= last)),
        failed_import=failed, rint=selectors.rint_series(cell), pressure=pressure,
        registered_pressure_mpa=cell.stack_pressure_mpa,
    )


def cell_evaluate(*, cell_id: int, now: datetime | None = None) -> list[Alert]:
    """Run the rules on the cell's current data; update its board row and alerts. Returns the new alerts."""
    now = now or timezone.now()
    cell = Cell.objects.select_related("group", "project", "anode").filter(pk=cell_id).first()
    if cell is None:
        return []
    frame = selectors.cell_cycle_frame(cell, voltages=True)
    state = RunState.objects.filter(cell=cell).first()
    facts = cell_facts(cell, frame, now=now, finished_at=state.finished_at if state else None)
    active_rules = {k: r for k, r in selectors.effective_rules(cell).items() if r.enabled}
    conditions = rules.evaluate(frame, facts, {k: r.threshold for k, r in active_rules.items()})
    with transaction.atomic():
        new = _sync_alerts(cell, conditions, active_rules, now)
        _save_run_state(cell, frame, facts, conditions, active_rules, now)
    return new  # the caller (monitoring.tasks.evaluate_and_notify) sends their notifications


def _sync_alerts(cell: Cell, conditions: list[rules.Condition], active_rules: dict, now: datetime) -> list[Alert]:
    live = {a.kind: a for a in Alert.objects.select_for_update().filter(cell=cell, closed_at=None)}
    new = []
    for cond in conditions:
        message = f"{cell.name}: {cond.message}"
        alert = live.pop(cond.kind, None)
        if alert is not None:  # the same condition still holds: refresh its numbers, keep its first cycle
            Alert.objects.filter(pk=alert.pk).update(message=message, values=cond.values, last_seen_at=now)
            continue
        before = Alert.objects.filter(cell=cell, kind=cond.kind).order_by("-opened_at").first()
        if before is not None and before.status == Alert.Status.RESOLVED and before.cycle == cond.cycle:
            continue  # a researcher resolved this very condition: do not raise it again
        muted = before.muted_until if before is not None and before.is_muted(now) else None
        new.append(Alert.objects.create(
            cell=cell, kind=cond.kind, rule=_saved(active_rules.get(cond.kind)), cycle=cond.cycle, message=message,
            title=rules.title(cond.kind, getattr(active_rules.get(cond.kind), "threshold", None)),
            values=cond.values, opened_at=now, last_seen_at=now, muted_until=muted,
        ))
    for alert in live.values():  # conditions gone: the alert clears by itself
        Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.CLEARED, closed_at=now)
    return new


def _saved(rule):
    return rule if rule is not None and rule.pk is not None else None


def _save_run_state(cell, frame, facts, conditions, active_rules, now) -> RunState:
    kinds = {c.kind for c in conditions}
    complete = frame[~frame["is_partial"].fillna(False).astype(bool)] if len(frame) else frame
    cap, unit = rules._capacity(complete) if len(complete) else (np.array([]), "")
    latest = complete.iloc[-1] if len(complete) else None
    retention = None
    if latest is not None and facts.reference_cycle is not None:
        # The latest cycle against the reference, by the one definition (cycling.analysis.fade.retention).
        retention = fade.retention(complete["cycle"].to_numpy(), cap, facts.reference_cycle)["retention_percent"]
    stale_rule = active_rules.get(rules.STALE)
    last = facts.last_record_at
    state = RunState.State.RUNNING
    if rules.IMPORT_FAILED in kinds or (facts.failed_import and latest is None):
        state = RunState.State.FAILED
    elif rules.DIED in kinds:
        state = RunState.State.DIED
    elif facts.finished:
        state = RunState.State.FINISHED
    start = frame.attrs.get("start_time_utc")
    values = dict(
        datafile_id=frame.attrs.get("datafile_id"), device_id=frame.attrs.get("device_id"),
        channel=frame.attrs.get("channel", ""),
        run_started_at=datetime.fromisoformat(start) if start else None, last_record_at=last,
        stale_at=(last + timedelta(hours=stale_rule.threshold)) if last and stale_rule and stale_rule.threshold else None,
        latest_cycle=int(latest["cycle"]) if latest is not None else None,
        latest_capacity=float(cap[-1]) if len(cap) and np.isfinite(cap[-1]) else None, capacity_unit=unit,
        reference_cycle=facts.reference_cycle, retention_percent=retention,
        latest_ce_percent=float(latest["ce_percent"]) if latest is not None and np.isfinite(latest["ce_percent"]) else None,
        sparkline=selectors.sparkline(complete["cycle"].to_numpy(), cap) if len(complete) else [],
        state=state, import_error=facts.failed_import or "", evaluated_at=now,
    )
    if not facts.finished:
        values["finished_at"] = None  # newer data than the finish mark reopens the run
    run, _ = RunState.objects.update_or_create(cell=cell, defaults=values)
    return run


def cells_due(*, now: datetime | None = None) -> list[int]:
    """Cells the beat must re-evaluate: runs quiet past the stale limit (not yet flagged), cells never evaluated."""
    from cycling.models import DataFile

    now = now or timezone.now()
    flagged = Alert.objects.filter(cell=OuterRef("cell"), kind=rules.STALE, closed_at=None)
    quiet = RunState.objects.filter(stale_at__lt=now, finished_at=None).exclude(Exists(flagged)).values_list(
        "cell_id", flat=True)
    never = DataFile.objects.filter(status__in=[DataFile.Status.IMPORTED, DataFile.Status.FAILED],
                                    cell__run_state__isnull=True).values_list("cell_id", flat=True)
    return sorted(set(quiet) | set(never))


# --- what researchers do with alerts and runs -----------------------------------------------

def alert_acknowledge(*, alert: Alert, actor) -> Alert:
    """Someone is on it: the alert leaves the inbox count but stays live until it clears or is resolved."""
    if alert.status == Alert.Status.OPEN:
        alert.status, alert.acknowledged_at, alert.acknowledged_by = Alert.Status.ACKNOWLEDGED, timezone.now(), actor
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
        audit(actor=actor, action="acknowledge", obj=alert, cycle=alert.cycle, kind=alert.kind)
    return alert


def alert_mute(*, alert: Alert, actor, hours: float) -> Alert:
    """Silence the alert (and a re-opening of the same rule on this cell) for `hours`."""
    if not 0 < hours <= 24 * 90:
        raise ValueError("Mute for more than 0 and at most 2160 hours (90 days).")
    alert.muted_until = timezone.now() + timedelta(hours=hours)
    alert.save(update_fields=["muted_until"])
    audit(actor=actor, action="mute", obj=alert, hours=hours, until=alert.muted_until.isoformat())
    return alert


def alert_resolve(*, alert: Alert, actor, note: str = "") -> Alert:
    """Close the alert by hand; the same condition (same rule, same first cycle) is not raised again."""
    if alert.closed_at is None:
        alert.status, alert.closed_at, alert.resolved_by = Alert.Status.RESOLVED, timezone.now(), actor
        alert.save(update_fields=["status", "closed_at", "resolved_by"])
        audit(actor=actor, action="resolve", obj=alert, cycle=alert.cycle, kind=alert.kind, note=note)
    return alert


def run_mark_finished(*, cell: Cell, actor) -> RunState:
    """The test ended on purpose: the run shows as finished and no longer goes stale until newer data comes."""
    run, _ = RunState.objects.get_or_create(cell=cell)
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at"])
    audit(actor=actor, action="finish_run", obj=cell)
    cell_evaluate(cell_id=cell.pk)
    run.refresh_from_db()
    return run


def run_unmark_finished(*, cell: Cell, actor) -> RunState:
    """Undo run_mark_finished: the run is running again (and goes stale when quiet)."""
    run, _ = RunState.objects.get_or_create(cell=cell)
    run.finished_at = None
    run.save(update_fields=["finished_at"])
    audit(actor=actor, action="unfinish_run", obj=cell)
    cell_evaluate(cell_id=cell.pk)
    run.refresh_from_db()
    return run


# --- delivery --------------------------------------------------------------------------------

def _recipients(alert: Alert):
    """Users who asked for e-mails of this project, the cell's group and the kind, and may still see the project."""
    subs = (Subscription.objects.filter(project_id=alert.cell.project_id, email=True).select_related("user")
            .prefetch_related("groups"))
    for sub in subs:
        user = sub.user
        if not sub.wants(alert.kind) or not sub.covers(alert.cell.group_id) or not user.is_active or not user.email:
            continue
        if user.is_staff or user.is_superuser or user.lab_projects.filter(pk=alert.cell.project_id).exists():
            yield user


def alert_notify(*, alert: Alert) -> list[int]:
    """One delivery per e-mail subscriber and webhook of the alert's project (ids; monitoring.tasks sends them)."""
    if alert.is_muted():
        return []
    ids = []
    with transaction.atomic():
        for user in _recipients(alert):
            ids.append(Delivery.objects.get_or_create(alert=alert, channel=Delivery.Channel.EMAIL, user=user)[0].pk)
        for hook in Webhook.objects.filter(project_id=alert.cell.project_id, is_active=True):
            if hook.wants(alert.kind):
                ids.append(Delivery.objects.get_or_create(alert=alert, channel=Delivery.Channel.WEBHOOK,
                                                          webhook=hook)[0].pk)
    return ids


def _alert_url(alert: Alert) -> str:
    return settings.ASSB_SITE_URL.rstrip("/") + alert.get_absolute_url()


def alert_fields(alert: Alert) -> list[tuple[str, str]]:
    """The structured facts of an alert, the same in e-mails and webhooks."""
    fields = [("Cell", alert.cell.name), ("Group", str(alert.cell.group)), ("Project", str(alert.cell.project)),
              ("Rule", alert.title), ("Cycle", "—" if alert.cycle is None else str(alert.cycle))]
    if alert.rule is not None and alert.rule.threshold is not None:
        fields.append(("Limit", f"{alert.rule.threshold:g} {alert.rule.unit}".strip()))
    return fields


def webhook_body(alert: Alert) -> dict:
    """`text` for Slack/Mattermost/Teams incoming webhooks, Slack/Mattermost attachment fields, and raw data."""
    url = _alert_url(alert)
    fields = alert_fields(alert)
    return {
        "text": f"assb-lab alert: {alert.message} <{url}|open the cell at cycle {alert.cycle}>",
        "attachments": [{
            "fallback": alert.message, "color": "#d92d20", "title": f"{alert.cell.name}: {alert.title}",
            "title_link": url, "text": alert.message,
            "fields": [{"title": k, "value": v, "short": True} for k, v in fields],
        }],
        "alert": {"id": alert.pk, "cell": alert.cell.name, "cell_id": alert.cell_id, "kind": alert.kind,
                  "cycle": alert.cycle, "message": alert.message, "values": alert.values, "url": url,
                  "opened_at": alert.opened_at.isoformat()},
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex: what a receiver recomputes to trust the POST."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _post_webhook(hook: Webhook, alert: Alert) -> None:
    _post_signed(hook, webhook_body(alert))


def _post_signed(hook: Webhook, payload: dict) -> int:
    import requests

    try:  # again at each delivery: the allow-list or what the name resolves to may have changed
        check_webhook_url(hook.url)
    except UnsafeWebhookUrl as exc:
        raise OSError(f"webhook {hook.name} not sent: {exc}") from None
    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    # No redirects: a 3xx is an error like any other answer above 299 (a redirect could lead inside the lab).
    resp = requests.post(hook.url, data=body, timeout=WEBHOOK_TIMEOUT_S, allow_redirects=False, headers={
        "Content-Type": "application/json", "User-Agent": "assb-lab-alerts/1",
        "X-Assb-Timestamp": stamp, "X-Assb-Signature": f"sha256={sign(hook.secret, stamp, body)}",
    })
    if resp.status_code >= 300:
        raise OSError(f"webhook {hook.name} answered HTTP {resp.status_code}: {resp.text[:200]}")
    return resp.status_code


def webhook_send_test(*, hook: Webhook, actor) -> str:
    """POST a signed test message to the hook now (not queued) and say how it went, in words; audited."""
    import requests

    payload = {
        "text": f"assb-lab: test message for webhook {hook.name} ({hook.project}); alerts of this project "
                "will arrive like this.",
        "test": True, "webhook": hook.name, "project": str(hook.project),
    }
    try:
        code = _post_signed(hook, payload)
    except (OSError, requests.RequestException) as exc:
        outcome, ok = f"failed: {exc}", False
    else:
        outcome, ok = f"sent: the receiver answered HTTP {code}", True
    audit(actor=actor, action="webhook.test", obj=hook, ok=ok, outcome=outcome[:300])
    return outcome


class SubscriptionError(ValueError):
    """A subscription that cannot work as asked (the message says why and what to do)."""


@transaction.atomic
def subscription_set(*, user, project, in_app: bool, email: bool, kinds: list[str],
                     groups=()) -> Subscription:
    """Set what of `project` reaches `user`: in the app and/or by e-mail, for `kinds` (empty = all) of the cells
    of `groups` (CellGroups of the project; empty = all). Without a subscription a member sees every alert in
    the app, so "nothing" is stored as such. E-mail needs the user's address: refused without one, never
    silently mute."""
    unknown = sorted(set(kinds) - set(rules.RULE_KINDS))
    if unknown:
        raise SubscriptionError(f"Unknown rule kinds: {', '.join(unknown)}.")
    foreign = sorted(g.name for g in groups if g.project_id != project.pk)
    if foreign:
        raise SubscriptionError(f"Groups {', '.join(foreign)} are not groups of {project}; choose its own groups.")
    if email and not user.email:
        raise SubscriptionError(f"E-mails of {project} need your e-mail address: enter it first.")
    sub, _created = Subscription.objects.update_or_create(
        user=user, project=project, defaults={"in_app": in_app, "email": email, "kinds": sorted(kinds)})
    sub.groups.set(groups)
    return sub


def _send_email(user, alert: Alert) -> None:
    lines = [alert.message, "", *(f"{k}: {v}" for k, v in alert_fields(alert)), "", f"Open: {_alert_url(alert)}",
             "", "You get this because you subscribed to e-mails of this project in assb-lab."]
    send_mail(subject=f"[assb-lab] {alert.cell.name}: {alert.title} (cycle {alert.cycle})",
              message="\n".join(lines), from_email=None, recipient_list=[user.email], fail_silently=False)


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> str:
    """Try one delivery once; a failure schedules the next try with exponential backoff (or gives up)."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (Delivery.objects.select_for_update(of=("self",))
                    .select_related("alert__cell__group", "alert__cell__project", "alert__rule", "user", "webhook")
                    .filter(pk=delivery_id, status=Delivery.Status.PENDING).first())
        if delivery is None:
            return "done"
        Delivery.objects.filter(pk=delivery_id).update(attempts=delivery.attempts + 1,
                                                       next_attempt_at=now + timedelta(minutes=5))
    try:
        if delivery.channel == Delivery.Channel.EMAIL:
            _send_email(delivery.user, delivery.alert)
        else:
            _post_webhook(delivery.webhook, delivery.alert)
    except Exception as exc:  # SMTP down, refused, HTTP error: keep it for the next try
        attempts = delivery.attempts + 1
        gave_up = attempts >= DELIVERY_MAX_ATTEMPTS
        Delivery.objects.filter(pk=delivery_id).update(
            status=Delivery.Status.FAILED if gave_up else Delivery.Status.PENDING,
            last_error=f"{exc.__class__.__name__}: {exc}"[:2000],
            next_attempt_at=now + timedelta(seconds=min(30 * 2 ** (attempts - 1), 6 * 3600)),
        )
        log.warning("delivery %s (%s) failed, attempt %s: %s", delivery_id, delivery.channel, attempts, exc)
        return Delivery.Status.FAILED if gave_up else "retry"
    Delivery.objects.filter(pk=delivery_id).update(status=Delivery.Status.SENT, sent_at=timezone.now(), last_error="")
    return Delivery.Status.SENT


def deliveries_due(*, now: datetime | None = None) -> list[int]:
    """Pending deliveries whose next try is due (the beat re-sends them)."""
    now = now or timezone.now()
    return list(Delivery.objects.filter(Q(status=Delivery.Status.PENDING), next_attempt_at__lte=now)
                .values_list("pk", flat=True))
