"""App config of the effects of build facts on outcomes (statistics over cells; no models of its own)."""
from django.apps import AppConfig


class EffectsConfig(AppConfig):
    name = "effects"
    verbose_name = "Effects of build facts"
