"""Filters of the board and of alerts, shared by the web pages and the REST API."""
import django_filters
from django.db.models import Q

from . import rules
from .models import Alert, RunState


def _id_or_name(queryset, field, value):
    value = value.strip()
    if value.isdigit():
        return queryset.filter(**{f"{field}_id": int(value)})
    return queryset.filter(**{f"{field}__name__iexact": value})


class BoardFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Cell")
    project = django_filters.CharFilter(method="filter_project", label="Project (id or name)")
    group = django_filters.CharFilter(method="filter_group", label="Group (id or name)")
    device = django_filters.CharFilter(method="filter_device", label="Cycler device (id or name)")
    state = django_filters.MultipleChoiceFilter(field_name="state_now", choices=RunState.State.choices,
                                                label="State")

    class Meta:
        model = RunState
        fields = ["q", "project", "group", "device", "state"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(cell__name__icontains=value) | Q(channel__icontains=value))

    def filter_project(self, queryset, name, value):
        return _id_or_name(queryset, "cell__project", value)

    def filter_group(self, queryset, name, value):
        return _id_or_name(queryset, "cell__group", value)

    def filter_device(self, queryset, name, value):
        return _id_or_name(queryset, "device", value)


class AlertFilterSet(django_filters.FilterSet):
    live = django_filters.BooleanFilter(field_name="closed_at", lookup_expr="isnull", label="Live (not closed)")
    kind = django_filters.MultipleChoiceFilter(choices=[(k, v[0]) for k, v in rules.RULE_KINDS.items()])
    status = django_filters.MultipleChoiceFilter(choices=Alert.Status.choices)
    project = django_filters.NumberFilter(field_name="cell__project_id")
    group = django_filters.NumberFilter(field_name="cell__group_id")

    class Meta:
        model = Alert
        fields = ["cell", "kind", "status", "live", "project", "group"]
