"""Copy front-end libraries from installed Python packages into static/vendor/ (no CDN: the lab may be offline)."""
import shutil
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand


def vendor_files() -> dict[str, Path]:
    import plotly

    return {"plotly.min.js": Path(plotly.__file__).parent / "package_data" / "plotly.min.js"}


class Command(BaseCommand):
    help = "Copy plotly.min.js from the plotly package into static/vendor/."

    def handle(self, **opts):
        target = Path(settings.BASE_DIR) / "static" / "vendor"
        target.mkdir(parents=True, exist_ok=True)
        for name, src in vendor_files().items():
            dest = target / name
            if not dest.exists() or dest.stat().st_size != src.stat().st_size:
                shutil.copyfile(src, dest)
            self.stdout.write(f"static/vendor/{name} ({dest.stat().st_size // 1024} KiB) from {src.parent.parent.name}")
