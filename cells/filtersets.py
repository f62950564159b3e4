"""Filters of cells shared by the web pages and the REST API."""
import django_filters
from django.db.models import Exists, OuterRef, Q

from impedance.models import EisSpectrum

from .models import Cell, CellGroup, Material


class CellFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    group = django_filters.CharFilter(method="filter_group", label="Group (id or name)")
    coated = django_filters.BooleanFilter(field_name="coating", lookup_expr="isnull", exclude=True, label="Coated")
    coating_material = django_filters.CharFilter(field_name="coating__material__name", lookup_expr="iexact")
    cathode_material = django_filters.CharFilter(field_name="cathode_material__name", lookup_expr="iexact")
    built_after = django_filters.DateFilter(field_name="build_date", lookup_expr="gte")
    built_before = django_filters.DateFilter(field_name="build_date", lookup_expr="lte")
    has_eis = django_filters.ChoiceFilter(choices=[("yes", "with EIS"), ("no", "without")], method="filter_has_eis",
                                          label="Impedance spectra")

    class Meta:
        model = Cell
        fields = ["project", "q", "group", "coated", "coating_material", "cathode_material", "built_after",
                  "built_before", "has_eis"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value) | Q(notes__icontains=value) | Q(group__name__icontains=value)
            | Q(builder__icontains=value)
        )

    def filter_has_eis(self, queryset, name, value):
        measured = Exists(EisSpectrum.objects.filter(cell=OuterRef("pk")))
        return queryset.filter(measured if value == "yes" else ~measured)

    def filter_group(self, queryset, name, value):
        if value.isdigit():
            return queryset.filter(group_id=int(value))
        return queryset.filter(group__name__iexact=value)


class CellGroupFilterSet(django_filters.FilterSet):
    class Meta:
        model = CellGroup
        fields = ["project", "name"]


class MaterialFilterSet(django_filters.FilterSet):
    class Meta:
        model = Material
        fields = {"kind": ["exact"], "name": ["exact", "icontains"]}
