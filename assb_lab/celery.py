"""The Celery application: broker and queues come from Django settings (CELERY_*)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assb_lab.settings")

app = Celery("assb_lab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
