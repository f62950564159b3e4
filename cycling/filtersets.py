"""Filters of data files shared by the web pages and the REST API."""
import django_filters

from .models import DataFile


class DataFileFilterSet(django_filters.FilterSet):
    class Meta:
        model = DataFile
        fields = ["cell", "status", "kind"]
