"""Web pages of monitoring: the board (rows fetched by static/js/board.js from the API) and the alert inbox."""
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from assb_lab.params import query_number
from cells.access import missing_permissions
from cells.models import CyclerDevice
from cells.selectors import groups_visible_to, projects_visible_to

from . import selectors, services
from .filtersets import AlertFilterSet
from .models import RunState

DEFAULT_REFRESH_S = 15


@login_required
def board_page(request):
    """Filter controls and an empty table; board.js polls /api/v1/board/ with the same querystring."""
    refresh_s = query_number(request.GET, "refresh", kind=int, default=DEFAULT_REFRESH_S, min_value=1, max_value=600)
    projects = projects_visible_to(request.user)
    return render(request, "monitoring/board.html", {
        "needs": missing_permissions(request.user, {
            "monitoring.view_runstate": "the board's rows",
            "monitoring.add_alert": "acknowledging, muting or resolving alerts and marking a run finished",
        }),
        "projects": projects.order_by("name"),
        "groups": groups_visible_to(request.user).order_by("project__name", "name"),
        "devices": CyclerDevice.objects.filter(projects__in=projects).distinct().order_by("name"),
        "states": RunState.State.choices, "chosen": request.GET, "chosen_states": request.GET.getlist("state"),
        "refresh_s": refresh_s, "can_act": request.user.has_perm("monitoring.add_alert"),
        "lab_tz": settings.TIME_ZONE,
    })


@login_required
def alert_inbox(request):
    """Live alerts of the projects you see (acknowledge, mute, resolve), and the last closed ones."""
    visible = selectors.alerts_visible_to(request.user)
    params = request.GET.copy()
    params.setdefault("live", "true")
    alerts = AlertFilterSet(params, queryset=visible).qs.order_by("-opened_at")[:200]
    return render(request, "monitoring/inbox.html", {
        "needs": missing_permissions(request.user, {
            "monitoring.add_alert": "acknowledging, muting or resolving alerts",
        }),
        "alerts": alerts, "live": params.get("live") != "false",
        "can_act": request.user.has_perm("monitoring.add_alert"),
    })


@login_required
def alert_settings(request):
    """Your alert subscriptions per project (which groups and rule kinds, in the app, by e-mail), your e-mail
    address, and the projects' webhooks with a "send test" button (for who may see them)."""
    from django.contrib import messages
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email
    from django.shortcuts import redirect

    from .models import Subscription, Webhook
    from .rules import RULE_KINDS

    projects = list(projects_visible_to(request.user).order_by("name"))
    groups_of: dict = {}
    for group in groups_visible_to(request.user).filter(project__in=projects).order_by("name"):
        groups_of.setdefault(group.project_id, []).append(group)

    def mine():
        return {s.project_id: s for s in Subscription.objects.filter(user=request.user).prefetch_related("groups")}

    subs = mine()
    errors: dict = {}
    if request.method == "POST":
        address = request.POST.get("email_address", "").strip()
        if address != request.user.email:
            try:
                if address:
                    validate_email(address)
            except ValidationError:
                errors["email_address"] = f"{address!r} is not an e-mail address."
            else:
                request.user.email = address
                request.user.save(update_fields=["email"])
        for project in projects:
            prefix = f"p{project.pk}-"
            chosen = set(request.POST.getlist(prefix + "groups"))
            try:
                services.subscription_set(
                    user=request.user, project=project, in_app=bool(request.POST.get(prefix + "in_app")),
                    email=bool(request.POST.get(prefix + "email")),
                    kinds=[k for k in request.POST.getlist(prefix + "kinds") if k],
                    groups=[g for g in groups_of.get(project.pk, []) if str(g.pk) in chosen])
            except services.SubscriptionError as exc:
                errors[project.pk] = str(exc)
        if not errors:
            messages.success(request, "Alert settings saved.")
            return redirect("alert-settings")
        subs = mine()
    rows = []
    for project in projects:
        sub = subs.get(project.pk)
        rows.append({"project": project, "in_app": sub.in_app if sub else True, "email": sub.email if sub else False,
                     "kinds": set(sub.kinds) if sub else set(), "error": errors.get(project.pk),
                     "groups": groups_of.get(project.pk, []),
                     "chosen_groups": {g.pk for g in sub.groups.all()} if sub else set()})
    can_see_hooks = request.user.has_perm("monitoring.view_webhook")
    hooks = Webhook.objects.restrict(request.user).select_related("project") if can_see_hooks else []
    return render(request, "monitoring/settings.html", {
        "rows": rows, "kinds": [(k, v[0]) for k, v in RULE_KINDS.items()], "hooks": hooks,
        "email_error": errors.get("email_address"), "can_test": request.user.has_perm("monitoring.change_webhook"),
        "needs": missing_permissions(request.user, {"monitoring.view_webhook": "the projects' webhooks"}),
    }, status=400 if errors else 200)


@login_required
def webhook_test(request, pk):
    """POST: send a signed test message to one webhook now and say how it went."""
    from django.contrib import messages
    from django.shortcuts import get_object_or_404, redirect

    from cells.access import permission_needed

    from .models import Webhook

    if request.method != "POST":
        return redirect("alert-settings")
    if not request.user.has_perm("monitoring.change_webhook"):
        return permission_needed(request, "monitoring.change_webhook", "sending a test message to a webhook")
    hook = get_object_or_404(Webhook.objects.restrict(request.user, "change"), pk=pk)
    outcome = services.webhook_send_test(hook=hook, actor=request.user)
    (messages.success if outcome.startswith("sent") else messages.error)(request, f"Webhook {hook.name}: {outcome}")
    return redirect("alert-settings")
