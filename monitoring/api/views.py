"""REST endpoints of monitoring: the board, alerts and what people do with them, rules, subscriptions, webhooks."""
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import decorators, generics, permissions, response, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.utils.urls import replace_query_param

from assb_lab.params import query_number
from cells.permissions import is_device
from cells.selectors import cells_visible_to, projects_visible_to, sees_everything
from cells.services import object_delete, object_save

from .. import selectors, services
from ..filtersets import AlertFilterSet, BoardFilterSet
from ..models import AlertRule, RunState, Subscription, Webhook
from . import serializers

BOARD_PAGE_SIZE = 100  # rows per board page (a screenful or two, refreshed every 15 s) (?limit=, at most BOARD_MAX_LIMIT)
BOARD_MAX_LIMIT = 1000
BOARD_ORDERING = ["cell__name", "cell__group__name", "cell__project__name", "device__name", "channel",
                  "run_started_at", "last_record_at", "latest_cycle", "latest_capacity", "retention_percent",
                  "latest_ce_percent", "state_now", "open_alerts"]


class BoardView(generics.ListAPIView):
    """Every visible cell with a run on the board: state (running, stale, finished, died, failed import),
    freshness of its data in lab time, latest cycle, discharge and retention vs its reference cycle, CE,
    a capacity sparkline and its open alerts. Filter by project, group, device, state; sort with `ordering`."""

    serializer_class = serializers.BoardRowSerializer
    filterset_class = BoardFilterSet
    ordering_fields = BOARD_ORDERING
    ordering = ["-open_alerts", "cell__name"]
    search_fields = []
    pagination_class = None  # paged by list() itself: the body stays a list, the page is in headers
    extra_query_params = ("limit", "offset")

    def get_queryset(self):
        return selectors.board_rows(self.request.user)

    def list(self, request, *args, **kwargs):
        # Paged (the body stays a list of rows; the page is told in headers, as GitHub's API does): at 2,000
        # cells the unpaged board was 2,000 rows built and serialised on every poll. Offsets stay small (a
        # board of N cells has N / limit pages) and the default order is by a computed count of open alerts
        # that no index can serve, so a keyset would not spare the database its sort: limit/offset it is.
        params = request.query_params
        limit = min(query_number(params, "limit", kind=int, default=BOARD_PAGE_SIZE, min_value=1), BOARD_MAX_LIMIT)
        offset = query_number(params, "offset", kind=int, default=0, min_value=0)
        rows = self.filter_queryset(self.get_queryset())
        total = rows.count()
        out = response.Response(selectors.board_payload(rows[offset:offset + limit]))
        out["X-Total-Count"] = str(total)
        links = []
        if offset + limit < total:
            links.append(f'<{replace_query_param(request.build_absolute_uri(), "offset", offset + limit)}>; rel="next"')
        if offset:
            links.append(f'<{replace_query_param(request.build_absolute_uri(), "offset", max(offset - limit, 0))}>; '
                         'rel="prev"')
        if links:
            out["Link"] = ", ".join(links)
        return out


class BoardFinishView(generics.GenericAPIView):
    """Mark a cell's run as finished on purpose (it then never goes stale until newer data arrives)."""

    serializer_class = serializers.BoardRowSerializer
    queryset = RunState.objects.none()

    def get_queryset(self):  # for the model permission (change_runstate)
        return RunState.objects.none()

    @extend_schema(request=None, responses=serializers.BoardRowSerializer)
    def post(self, request, pk):
        cell = get_object_or_404(cells_visible_to(request.user), pk=pk)
        services.run_mark_finished(cell=cell, actor=request.user)
        rows = selectors.board_rows(request.user).filter(cell=cell)
        return response.Response(selectors.board_payload(rows)[0])


class BoardUnfinishView(BoardFinishView):
    """Undo "mark finished": the run counts as running again (and turns stale when quiet)."""

    @extend_schema(request=None, responses=serializers.BoardRowSerializer)
    def post(self, request, pk):
        cell = get_object_or_404(cells_visible_to(request.user), pk=pk)
        services.run_unmark_finished(cell=cell, actor=request.user)
        rows = selectors.board_rows(request.user).filter(cell=cell)
        return response.Response(selectors.board_payload(rows)[0])


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts of the cells you may see; acknowledge, mute or resolve one (audit-logged)."""

    serializer_class = serializers.AlertSerializer
    filterset_class = AlertFilterSet
    ordering_fields = ["opened_at", "last_seen_at", "cycle", "status", "kind"]

    def get_queryset(self):
        return selectors.alerts_visible_to(self.request.user)

    def _act(self, alert):
        alert.refresh_from_db()
        return response.Response(self.get_serializer(alert).data)

    @extend_schema(request=None, responses=serializers.AlertSerializer)
    @decorators.action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._act(services.alert_acknowledge(alert=self.get_object(), actor=request.user))

    @extend_schema(request=serializers.MuteSerializer, responses=serializers.AlertSerializer)
    @decorators.action(detail=True, methods=["post"])
    def mute(self, request, pk=None):
        form = serializers.MuteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return self._act(services.alert_mute(alert=self.get_object(), actor=request.user,
                                             hours=form.validated_data["hours"]))

    @extend_schema(request=serializers.ResolveSerializer, responses=serializers.AlertSerializer)
    @decorators.action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        form = serializers.ResolveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return self._act(services.alert_resolve(alert=self.get_object(), actor=request.user,
                                                note=form.validated_data.get("note", "")))


class _Audited(viewsets.ModelViewSet):
    """Writes through the registry's audited save and delete (old -> new values, as the admin's)."""

    def perform_create(self, serializer):
        object_save(actor=self.request.user, save=serializer.save)

    def perform_update(self, serializer):
        object_save(actor=self.request.user, save=serializer.save, instance=serializer.instance)

    def perform_destroy(self, instance):
        object_delete(obj=instance, actor=self.request.user)


class AlertRuleViewSet(_Audited):
    """Limits of the alert rules: lab-wide defaults and narrower ones per project, group or cell."""

    serializer_class = serializers.AlertRuleSerializer
    filterset_fields = ["kind", "project", "group", "cell", "enabled"]

    def get_queryset(self):
        qs = AlertRule.objects.select_related("project", "group", "cell")
        user = self.request.user
        if sees_everything(user):
            return qs
        visible = projects_visible_to(user)
        return qs.filter(
            Q(project=None, group=None, cell=None) | Q(project__in=visible) | Q(group__project__in=visible)
            | Q(cell__project__in=visible))


class IsPersonNotDevice(permissions.BasePermission):
    """A logged-in person (any role) managing their own settings; cycler devices never."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and not is_device(request))


class SubscriptionViewSet(viewsets.ModelViewSet):
    """Your own choices per project: which rule kinds reach you, in the app and/or by e-mail."""

    serializer_class = serializers.SubscriptionSerializer
    permission_classes = [IsPersonNotDevice]
    queryset = Subscription.objects.none()  # for the schema; get_queryset scopes to the caller

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Subscription.objects.none()
        return Subscription.objects.filter(user=self.request.user)

    def perform_create(self, serializer):
        if Subscription.objects.filter(user=self.request.user, project=serializer.validated_data["project"]).exists():
            raise ValidationError({"project": "You already have a subscription for this project; change it instead."})
        serializer.save(user=self.request.user)


class WebhookViewSet(_Audited):
    """Incoming-webhook URLs that receive a project's alerts as signed JSON POSTs (lab admins)."""

    serializer_class = serializers.WebhookSerializer
    filterset_fields = ["project", "is_active"]

    def get_queryset(self):
        return Webhook.objects.restrict(self.request.user)
