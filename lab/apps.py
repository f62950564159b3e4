"""App config of lab: the faces that compose the data apps (cell list and page, compare, dataset zip, demo)."""
from django.apps import AppConfig


class LabConfig(AppConfig):
    name = "lab"
    verbose_name = "Lab pages (cells, cycling and impedance together)"
