"""Prepare the demo: an admin account, the reference study's cells and (with --upload) their data."""
import secrets

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from cells.demo import load_study_registry


def demo_admin_password() -> str:
    """A random password made once per installation and kept under var/ (never a fixed default)."""
    path = settings.VAR_DIR / "demo_admin_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


class Command(BaseCommand):
    help = "Create the demo admin and the reference study's cells; --upload URL sends their LAND data through the API."

    def add_arguments(self, parser):
        parser.add_argument("--registry-only", action="store_true", help="Do not generate or upload data.")
        parser.add_argument("--upload", metavar="URL", help="Base URL of the running app to upload demo data to.")
        parser.add_argument("--cycles", type=int, default=502, help="Cycles per demo cell (default 502).")

    def handle(self, registry_only, upload, cycles, **opts):
        User = get_user_model()
        password = demo_admin_password()
        admin, created = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        if created or not admin.check_password(password):
            admin.set_password(password)
            admin.is_staff = admin.is_superuser = True
            admin.save()
        cells = load_study_registry(stdout=self.stdout)
        self.stdout.write(f"Demo registry: {len(cells)} cells ({', '.join(c.name for c in cells)}).")
        # Apps that add to the demo (solidstate's specimens) offer hooks on their AppConfig: no import of them here.
        for config in apps.get_app_configs():
            if hasattr(config, "demo_registry"):
                config.demo_registry(stdout=self.stdout)
        if upload and not registry_only:
            from lab.demo import upload_demo_data

            upload_demo_data(base_url=upload, cycles=cycles, stdout=self.stdout)
            for config in apps.get_app_configs():
                if hasattr(config, "demo_upload"):
                    config.demo_upload(base_url=upload, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Log in as  admin / {password}"))
