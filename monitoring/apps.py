"""App config of monitoring: the board of running tests, alert rules, alerts and their delivery."""
from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring and alerts"

    def ready(self):
        from ingest.signals import cell_data_ingested

        from .tasks import on_cell_data_ingested

        # The ingest publishes "a cell's data changed"; it never imports monitoring.
        cell_data_ingested.connect(on_cell_data_ingested, dispatch_uid="monitoring-evaluate-after-ingest")
