"""assb-lab: the data system of a solid-state battery lab."""
from .celery import app as celery_app

__all__ = ("celery_app",)
