"""Filters of EIS spectra shared by the web pages and the REST API."""
import django_filters

from .models import EisSpectrum


class EisSpectrumFilterSet(django_filters.FilterSet):
    after_cycle_min = django_filters.NumberFilter(field_name="after_cycle", lookup_expr="gte",
                                                  label="Measured after cycle (from)")
    after_cycle_max = django_filters.NumberFilter(field_name="after_cycle", lookup_expr="lte",
                                                  label="Measured after cycle (to)")

    class Meta:
        model = EisSpectrum
        fields = ["cell", "datafile", "after_cycle", "after_cycle_min", "after_cycle_max"]
