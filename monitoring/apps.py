"""App config of monitoring: the board of running tests, alert rules, alerts and their delivery."""
from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring and alerts"
