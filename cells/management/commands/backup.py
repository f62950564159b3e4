"""Back up the database and the uploaded files into one folder with a SHA-256 manifest (see docs/operations.md)."""
import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from assb_lab.lib import path_sha256

MANIFEST = "manifest.json"
# Rebuilt by `migrate` on the target (or session state not worth keeping).
DUMPDATA_EXCLUDE = ["contenttypes", "auth.permission", "sessions", "admin.logentry"]


def pg_command(name: str) -> list[str]:
    """pg_dump/pg_restore with the connection of the default database (password through PGPASSWORD)."""
    db = connection.settings_dict
    cmd = [name, "-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432), "-U", db.get("USER") or "postgres"]
    return cmd


def pg_env() -> dict:
    env = dict(os.environ)
    if connection.settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = connection.settings_dict["PASSWORD"]
    return env


class Command(BaseCommand):
    help = ("Write DEST/ with the database (pg_dump custom format on PostgreSQL, else dumpdata JSON), a copy of "
            "the storage folder (media/) and manifest.json listing the SHA-256 of every file.")

    def add_arguments(self, parser):
        parser.add_argument("dest", help="A new or empty folder.")
        parser.add_argument("--format", choices=["auto", "json", "pg_dump"], default="auto",
                            help="Database dump format; auto = pg_dump on PostgreSQL, json elsewhere.")

    def handle(self, *args, dest, format, **options):
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            raise CommandError(f"{dest} is not empty; back up into a new folder.")
        if not isinstance(default_storage, FileSystemStorage):
            raise CommandError("The storage is not a local folder (S3?): back up the bucket with its own tools "
                               "(versioning or replication); this command copies local storage only.")
        dest.mkdir(parents=True, exist_ok=True)
        fmt = format if format != "auto" else ("pg_dump" if connection.vendor == "postgresql" else "json")
        started = timezone.now()

        if fmt == "pg_dump":
            if connection.vendor != "postgresql":
                raise CommandError("pg_dump needs a PostgreSQL database.")
            db_file = "db.pgdump"
            result = subprocess.run([*pg_command("pg_dump"), "-Fc", "--no-owner", "-f", str(dest / db_file),
                                     connection.settings_dict["NAME"]], env=pg_env(), capture_output=True, text=True)
            if result.returncode:
                raise CommandError(f"pg_dump failed: {result.stderr.strip()}")
        else:
            db_file = "db.json.gz"
            with gzip.open(dest / db_file, "wt", encoding="utf-8") as out:
                call_command("dumpdata", natural_foreign=True, natural_primary=True, exclude=DUMPDATA_EXCLUDE,
                             stdout=out, verbosity=0)

        media_src = Path(settings.MEDIA_ROOT)
        if media_src.exists():
            shutil.copytree(media_src, dest / "media", dirs_exist_ok=True)
        else:
            (dest / "media").mkdir()

        files = {
            p.relative_to(dest).as_posix(): {"sha256": path_sha256(p), "bytes": p.stat().st_size}
            for p in sorted(dest.rglob("*")) if p.is_file()
        }
        migrations = {}
        for app, name in MigrationRecorder(connection).migration_qs.values_list("app", "name"):
            migrations[app] = max(migrations.get(app, ""), name)
        manifest = {
            "created_at": started.isoformat(), "finished_at": timezone.now().isoformat(),
            "database": {"vendor": connection.vendor, "format": fmt, "file": db_file},
            "migrations": migrations, "files": files,
        }
        (dest / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        size = sum(f["bytes"] for f in files.values())
        self.stdout.write(f"Backed up the database ({fmt}) and {len(files) - 1} stored file(s), "
                          f"{size / 1e6:.1f} MB, to {dest}")
