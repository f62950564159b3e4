"""Writes of lab: built dataset-export zips are caches in storage (`datasets/<etag>.zip`); pruning them.

Kept apart from lab.dataset so the periodic task that prunes imports neither the zip builder nor the API
serializer it renders build sheets with (a task never imports an API layer; pyproject's import contracts).
"""
from datetime import UTC, datetime, timedelta

from django.core.files.storage import default_storage

STORAGE_DIR = "datasets"


def prune_built(*, days: float) -> tuple[int, int]:
    """Remove built zips (and .part files a crash left) older than `days`; returns (removed, kept). They are
    caches: the next download of the same selection rebuilds the same bytes if the data did not change."""
    if not default_storage.exists(STORAGE_DIR):
        return 0, 0
    cutoff = datetime.now(UTC) - timedelta(days=days)
    _dirs, names = default_storage.listdir(STORAGE_DIR)
    removed = 0
    for name in names:
        path = f"{STORAGE_DIR}/{name}"
        if name.endswith((".zip", ".part")) and default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)
            removed += 1
    return removed, len(names) - removed
