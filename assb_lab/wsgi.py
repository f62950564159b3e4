"""WSGI entry point (gunicorn assb_lab.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assb_lab.settings")
application = get_wsgi_application()
