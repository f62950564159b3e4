"""Remove built dataset zips (datasets/<etag>.zip) older than N days; a later request rebuilds one if needed."""
from datetime import UTC, datetime, timedelta

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand

from cycling.dataset import STORAGE_DIR


class Command(BaseCommand):
    help = ("Remove dataset-export zips built more than --days days ago (default 7). They are caches: the same "
            "selection is rebuilt on the next download, with the same bytes if the data did not change.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=7.0, help="Keep zips built within this many days.")

    def handle(self, *args, days: float, **options):
        if not default_storage.exists(STORAGE_DIR):
            self.stdout.write("No dataset zips stored.")
            return
        cutoff = datetime.now(UTC) - timedelta(days=days)
        _dirs, names = default_storage.listdir(STORAGE_DIR)
        removed = 0
        for name in names:
            path = f"{STORAGE_DIR}/{name}"
            # .part files are builds in progress or left by a crash; the same age rule covers both.
            if name.endswith((".zip", ".part")) and default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
                removed += 1
        self.stdout.write(f"Removed {removed} dataset zip(s) older than {days:g} days; {len(names) - removed} kept.")
