"""Reads for monitoring: a cell's cycles for the rules (ONE function), the board rows, alerts, effective rules."""
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from cells.auth import DevicePrincipal
from cells.models import Cell
from cycling.analysis.columns import MONITORING, columns_for, names_for
from cycling.analysis.metrics import first_half_of

from . import rules
from .models import Alert, AlertRule, RunState

# The rules' per-cycle columns: the column contract's MONITORING face, plus the file each cycle comes from.
_CYCLE_FIELDS = [*names_for(MONITORING), "datafile_id"]
_FLOAT_FIELDS = [c.name for c in columns_for(MONITORING) if c.kind == "float"]


def cell_cycle_frame(cell: Cell, *, voltages: bool = False) -> pd.DataFrame:
    """The cell's per-cycle table as the rules read it; the ONLY place monitoring reads cycling data.

    One row per cycle of the cell's active files (the newest file wins a cycle), with `capacity_mah_g`/
    `capacity_mah` = the delivered (second) half-cycle. With voltages=True the per-cycle min/max voltage
    is read from the newest active file's Parquet records (two columns only). attrs: `datafile_id`, `device_id`,
    `channel` and `start_time_utc` of the
    newest active cycling file, `last_record_at` (its start time + the end of its last cycle).
    """
    from cycling.selectors import active_datafiles, cycles_of

    # Cell cycles on the cell's timeline; where two files overlap, the later file on the timeline wins.
    rows = list(cycles_of([cell.pk]).order_by("cycle", "-datafile__timeline_position", "-datafile_id")
                .values_list(*_CYCLE_FIELDS))
    frame = pd.DataFrame.from_records(rows, columns=_CYCLE_FIELDS).drop_duplicates("cycle", keep="first")
    for col in _FLOAT_FIELDS:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    convention = next((c for c in frame["ce_convention"] if c), "discharge/charge")
    second = "charge" if first_half_of(convention) == "discharge" else "discharge"  # the delivered half
    frame["capacity_mah_g"] = frame[f"{second}_mah_g"]
    frame["capacity_mah"] = frame[f"{second}_mah"]
    frame = frame.sort_values("cycle", kind="stable").reset_index(drop=True)
    newest = active_datafiles(cell).select_related("device").order_by("-timeline_position", "-created_at").first()
    if voltages and newest is not None and newest.records_file:
        frame = frame.merge(_cycle_voltages(newest), on="cycle", how="left")
    # attrs last: merge() does not carry them over. Plain values only: pandas deep-copies attrs on every
    # column access, and a model instance (with its metadata and provenance JSON) made that most of the
    # evaluation's CPU time.
    metadata = (newest.metadata or {}) if newest is not None else {}
    frame.attrs.update(ce_convention=convention, first_half="charge" if second == "discharge" else "discharge",
                       datafile_id=newest.pk if newest is not None else None,
                       device_id=newest.device_id if newest is not None else None,
                       channel=str(metadata.get("channel") or metadata.get("barcode") or "")[:80],
                       start_time_utc=metadata.get("start_time_utc"),
                       last_record_at=_last_record_at(newest, frame))
    return frame


def _last_record_at(datafile, frame: pd.DataFrame) -> datetime | None:
    if datafile is None:
        return None
    start = (datafile.metadata or {}).get("start_time_utc")
    own = frame.loc[frame["datafile_id"] == datafile.pk, "end_time_s"]
    if not start or not own.notna().any():
        return datafile.finished_at or datafile.created_at
    return datetime.fromisoformat(start) + pd.Timedelta(seconds=float(own.max())).to_pytimedelta()


def _cycle_voltages(datafile) -> pd.DataFrame:
    from cycling.selectors import records_of

    records = records_of(datafile, columns=["cycle", "voltage_v"])  # the cycles its ingest analysed
    out = records.groupby("cycle", sort=True)["voltage_v"].agg(["min", "max"]).reset_index()
    out["cycle"] += datafile.cycle_offset  # the file's own cycles -> the cell's (its place on the timeline)
    return out.rename(columns={"min": "min_voltage_v", "max": "max_voltage_v"})


def rint_series(cell: Cell) -> pd.DataFrame:
    """The cell's R_int vs cycle (current fits, converged ones), from the impedance app's selector."""
    from impedance.selectors import rint_frame

    frame = rint_frame([cell])
    if not len(frame):
        return pd.DataFrame(columns=["cycle", "r_int_ohm"])
    frame = frame[frame["converged"].fillna(False).astype(bool) & frame["cycle"].notna()]
    return frame[["cycle", "r_int_ohm"]].astype(float).reset_index(drop=True)


def effective_rules(cell: Cell) -> dict[str, AlertRule]:
    """kind -> the most specific rule for the cell (cell > group > project > whole lab), one query."""
    candidates = AlertRule.objects.filter(
        Q(cell=cell) | Q(group_id=cell.group_id) | Q(project_id=cell.project_id)
        | Q(cell=None, group=None, project=None)
    )
    # The built-in defaults (rules.RULE_KINDS) stand in for a lab-wide row that is missing (unsaved, pk None).
    out: dict[str, AlertRule] = {kind: AlertRule(kind=kind, threshold=default, enabled=True)
                                 for kind, (_label, _unit, default) in rules.RULE_KINDS.items()}
    rank = {}
    for rule in candidates:
        r = 3 if rule.cell_id else 2 if rule.group_id else 1 if rule.project_id else 0
        if r >= rank.get(rule.kind, -1):
            out[rule.kind], rank[rule.kind] = rule, r
    return out


def _scoped(qs: QuerySet, user) -> QuerySet:
    """The one scoping rule (`restrict`, as in every app), except that cycler PCs never read the board or alerts."""
    if isinstance(user, DevicePrincipal):
        return qs.none()
    return qs.restrict(user)


def board_rows(user, *, now: datetime | None = None) -> QuerySet[RunState]:
    """The board: one RunState per visible cell, with the state as of now (a quiet run turns stale)."""
    now = now or timezone.now()
    live = Alert.objects.filter(closed_at=None)
    n_live = live.filter(cell=OuterRef("cell")).order_by().values("cell").annotate(n=Count("pk")).values("n")
    qs = RunState.objects.select_related("cell__group", "cell__project", "device").annotate(
        state_now=Case(
            When(state=RunState.State.RUNNING, stale_at__lt=now, then=Value(RunState.State.STALE)),
            default=F("state"), output_field=CharField(),
        ),
        open_alerts=Coalesce(Subquery(n_live, output_field=IntegerField()), 0),
    )
    # A run with cycling data (or whose import failed); finished ones stay for ASSB_BOARD_FINISHED_DAYS.
    from django.conf import settings

    days = getattr(settings, "ASSB_BOARD_FINISHED_DAYS", 14)
    qs = qs.filter(Q(datafile__isnull=False) | Q(state=RunState.State.FAILED)).exclude(
        state=RunState.State.FINISHED, finished_at__lt=now - timedelta(days=days))
    return _scoped(qs, user)


def alerts_visible_to(user) -> QuerySet[Alert]:
    return _scoped(Alert.objects.select_related("cell__group", "cell__project", "acknowledged_by"), user)


def inbox_count(user, now: datetime | None = None) -> int:
    """Open alerts a person still has to look at: live, not acknowledged, not muted, in-app subscribed (project,
    groups, rule kinds)."""
    from .models import Subscription

    now = now or timezone.now()
    qs = alerts_visible_to(user).filter(status=Alert.Status.OPEN).exclude(muted_until__gt=now)
    subs = Subscription.objects.filter(user=user).prefetch_related("groups") if getattr(user, "pk", None) else []
    for sub in subs:
        if not sub.in_app:
            qs = qs.exclude(cell__project_id=sub.project_id)
            continue
        if sub.kinds:
            qs = qs.exclude(Q(cell__project_id=sub.project_id) & ~Q(kind__in=sub.kinds))
        groups = [g.pk for g in sub.groups.all()]
        if groups:
            qs = qs.exclude(Q(cell__project_id=sub.project_id) & ~Q(cell__group_id__in=groups))
    return qs.count()


def sparkline(cycles: np.ndarray, capacity: np.ndarray, points: int = 40) -> list[list[float]]:
    """At most `points` [cycle, capacity] pairs, evenly spread and always keeping the last cycle."""
    ok = np.isfinite(capacity)
    cycles, capacity = cycles[ok], capacity[ok]
    if not len(cycles):
        return []
    idx = np.unique(np.linspace(0, len(cycles) - 1, min(points, len(cycles))).round().astype(int))
    return [[int(c), round(float(v), 1)] for c, v in zip(cycles[idx], capacity[idx], strict=True)]


_BOARD_VALUES = {
    "cell": "cell_id", "cell_name": "cell__name", "project": "cell__project__name", "group": "cell__group__name",
    "group_color": "cell__group__color", "device": "device__name", "channel": "channel",
    "run_started_at": "run_started_at", "last_record_at": "last_record_at", "latest_cycle": "latest_cycle",
    "latest_capacity": "latest_capacity", "capacity_unit": "capacity_unit", "reference_cycle": "reference_cycle",
    "retention_percent": "retention_percent", "latest_ce_percent": "latest_ce_percent", "sparkline": "sparkline",
    "state": "state_now", "open_alerts": "open_alerts", "finished_at": "finished_at", "evaluated_at": "evaluated_at",
}


def board_payload(rows: QuerySet[RunState], *, now: datetime | None = None) -> list[dict]:
    """The board rows as plain dicts (api.serializers.BoardRowSerializer documents the shape), in two queries.

    Built from .values() rather than a model serializer: 200 rows with their alerts stay well under 300 ms.
    """
    import zoneinfo

    from django.conf import settings
    from django.urls import reverse

    now = now or timezone.now()
    lab = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    labels = dict(RunState.State.choices)
    values = list(rows.values(*_BOARD_VALUES.values()))
    alerts: dict[int, list[dict]] = {}
    live = Alert.objects.filter(closed_at=None, cell_id__in=[v["cell_id"] for v in values]).order_by("opened_at")
    cell_url = reverse("cell-page", args=[0]).replace("/0/", "/{}/")
    for a in live.values("id", "cell_id", "kind", "title", "cycle", "message", "status", "muted_until"):
        url = cell_url.format(a["cell_id"]) + (f"?cycle={a['cycle']}#cycle-{a['cycle']}" if a["cycle"] is not None else "")
        alerts.setdefault(a.pop("cell_id"), []).append({
            "id": a["id"], "kind": a["kind"], "rule_label": a["title"], "cycle": a["cycle"], "message": a["message"],
            "status": a["status"], "muted": bool(a["muted_until"] and a["muted_until"] > now), "url": url,
        })
    for cell_alerts in alerts.values():  # one incident per cell: its most severe condition first
        cell_alerts.sort(key=lambda a: rules.severity_rank(a["kind"]))
    out = []
    for v in values:
        row = {key: v[src] for key, src in _BOARD_VALUES.items()}
        last, started = row["last_record_at"], row["run_started_at"]
        row.update(
            cell_url=cell_url.format(row["cell"]), state_label=labels.get(row["state"], row["state"]),
            hours_since_last_record=None if last is None else round((now - last).total_seconds() / 3600.0, 2),
            last_record_lab_time=None if last is None else last.astimezone(lab).strftime("%Y-%m-%d %H:%M"),
            run_started_lab_time=None if started is None else started.astimezone(lab).strftime("%Y-%m-%d %H:%M"),
            alerts=alerts.get(row["cell"], []),
        )
        row["incident"] = ({"headline": row["alerts"][0]["id"], "folded": [a["id"] for a in row["alerts"][1:]]}
                           if row["alerts"] else None)
        out.append(row)
    return out
