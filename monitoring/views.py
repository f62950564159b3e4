"""Web pages of monitoring: the board (rows fetched by static/js/board.js from the API) and the alert inbox."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from assb_lab.params import query_number
from cells.models import CyclerDevice
from cells.selectors import groups_visible_to, projects_visible_to

from . import selectors
from .filtersets import AlertFilterSet
from .models import RunState

DEFAULT_REFRESH_S = 15


@login_required
def board_page(request):
    """Filter controls and an empty table; board.js polls /api/v1/board/ with the same querystring."""
    refresh_s = query_number(request.GET, "refresh", kind=int, default=DEFAULT_REFRESH_S, min_value=1, max_value=600)
    projects = projects_visible_to(request.user)
    return render(request, "monitoring/board.html", {
        "projects": projects.order_by("name"),
        "groups": groups_visible_to(request.user).order_by("project__name", "name"),
        "devices": CyclerDevice.objects.filter(projects__in=projects).distinct().order_by("name"),
        "states": RunState.State.choices, "chosen": request.GET, "chosen_states": request.GET.getlist("state"),
        "refresh_s": refresh_s, "can_act": request.user.has_perm("monitoring.add_alert"),
    })


@login_required
def alert_inbox(request):
    """Live alerts of the projects you see (acknowledge, mute, resolve), and the last closed ones."""
    visible = selectors.alerts_visible_to(request.user)
    params = request.GET.copy()
    params.setdefault("live", "true")
    alerts = AlertFilterSet(params, queryset=visible).qs.order_by("-opened_at")[:200]
    return render(request, "monitoring/inbox.html", {
        "alerts": alerts, "live": params.get("live") != "false",
        "can_act": request.user.has_perm("monitoring.add_alert"),
    })
