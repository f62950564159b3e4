"""Filters of cells shared by the web pages and the REST API.

The registry is the base app: apps above it add filters of cells by their own data with `add_cell_filter`
(impedance adds `has_eis` from its AppConfig.ready), so this module imports none of them.
"""
import django_filters
from django.db.models import Q

from .models import Cell, CellGroup, Material


class CellFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    group = django_filters.CharFilter(method="filter_group", label="Group (id or name)")
    coated = django_filters.BooleanFilter(field_name="coating", lookup_expr="isnull", exclude=True, label="Coated")
    coating_material = django_filters.CharFilter(field_name="coating__material__name", lookup_expr="iexact")
    cathode_material = django_filters.CharFilter(field_name="cathode_material__name", lookup_expr="iexact")
    built_after = django_filters.DateFilter(field_name="build_date", lookup_expr="gte")
    built_before = django_filters.DateFilter(field_name="build_date", lookup_expr="lte")

    class Meta:
        model = Cell
        fields = ["project", "q", "group", "coated", "coating_material", "cathode_material", "built_after",
                  "built_before"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value) | Q(notes__icontains=value) | Q(group__name__icontains=value)
            | Q(builder__icontains=value)
        )

    def filter_group(self, queryset, name, value):
        if value.isdigit():
            return queryset.filter(group_id=int(value))
        return queryset.filter(group__name__iexact=value)


def add_cell_filter(name: str, cell_filter: django_filters.Filter) -> None:
    """Add a filter of cells owned by an app above the registry (called from that app's AppConfig.ready,
    before any request): pages and API both use CellFilterSet, so both get it."""
    CellFilterSet.base_filters[name] = cell_filter


class CellGroupFilterSet(django_filters.FilterSet):
    class Meta:
        model = CellGroup
        fields = ["project", "name"]


class MaterialFilterSet(django_filters.FilterSet):
    class Meta:
        model = Material
        fields = {"kind": ["exact"], "name": ["exact", "icontains"]}
