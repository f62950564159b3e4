"""Remove built dataset zips (datasets/<etag>.zip) older than N days; a later request rebuilds one if needed."""
from django.core.management.base import BaseCommand

from lab.services import prune_built


class Command(BaseCommand):
    help = ("Remove dataset-export zips built more than --days days ago (default 7). They are caches: the same "
            "selection is rebuilt on the next download, with the same bytes if the data did not change. The "
            "beat runs this daily (ASSB_DATASET_KEEP_DAYS).")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=7.0, help="Keep zips built within this many days.")

    def handle(self, *args, days: float, **options):
        removed, kept = prune_built(days=days)
        self.stdout.write(f"Removed {removed} dataset zip(s) older than {days:g} days; {kept} kept.")
