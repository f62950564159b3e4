"""Filters of EIS spectra shared by the web pages and the REST API."""
import django_filters
from django.db.models import Exists, OuterRef

from .models import EisSpectrum


def _filter_has_eis(queryset, name, value):
    measured = Exists(EisSpectrum.objects.filter(cell=OuterRef("pk")))
    return queryset.filter(measured if value == "yes" else ~measured)


def has_eis_filter() -> django_filters.Filter:
    """Cells with or without an impedance spectrum: added to cells.filtersets.CellFilterSet (ImpedanceConfig.ready)."""
    return django_filters.ChoiceFilter(choices=[("yes", "with EIS"), ("no", "without")], method=_filter_has_eis,
                                       label="Impedance spectra")


class EisSpectrumFilterSet(django_filters.FilterSet):
    after_cycle_min = django_filters.NumberFilter(field_name="after_cycle", lookup_expr="gte",
                                                  label="Measured after cycle (from)")
    after_cycle_max = django_filters.NumberFilter(field_name="after_cycle", lookup_expr="lte",
                                                  label="Measured after cycle (to)")

    class Meta:
        model = EisSpectrum
        fields = ["cell", "datafile", "after_cycle", "after_cycle_min", "after_cycle_max"]
