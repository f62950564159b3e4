"""Restore a folder written by `backup`: check every SHA-256, then replace the database and the storage folder."""
import gzip
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from assb_lab.lib import path_sha256

from .backup import MANIFEST, pg_command, pg_env


def verify(src: Path) -> dict:
    """The manifest, after checking that every file it lists is there with the same SHA-256."""
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"{src} has no readable {MANIFEST}: {exc}") from None
    bad = [name for name, meta in manifest["files"].items()
           if not (src / name).is_file() or path_sha256(src / name) != meta["sha256"]]
    if bad:
        raise CommandError(f"The backup is damaged: {len(bad)} file(s) missing or changed, e.g. {bad[:3]}")
    return manifest


class Command(BaseCommand):
    help = "Replace the database and the storage folder with a backup written by `manage.py backup`."

    def add_arguments(self, parser):
        parser.add_argument("src")
        parser.add_argument("--no-input", "--noinput", action="store_false", dest="interactive")

    def handle(self, *args, src, interactive, **options):
        src = Path(src)
        manifest = verify(src)
        db = manifest["database"]
        if interactive:
            answer = input(f"This replaces ALL data of database {connection.settings_dict['NAME']!s} and the files "
                           f"under {settings.MEDIA_ROOT}. Type 'yes' to go on: ")
            if answer.strip() != "yes":
                raise CommandError("Restore cancelled.")

        if db["format"] == "pg_dump":
            if connection.vendor != "postgresql":
                raise CommandError("This backup holds a pg_dump: restore it into PostgreSQL.")
            connection.close()
            result = subprocess.run([*pg_command("pg_restore"), "--clean", "--if-exists", "--no-owner",
                                     "--single-transaction", "-d", connection.settings_dict["NAME"],
                                     str(src / db["file"])], env=pg_env(), capture_output=True, text=True)
            if result.returncode:
                raise CommandError(f"pg_restore failed: {result.stderr.strip()}")
        else:
            call_command("migrate", verbosity=0, interactive=False)
            with tempfile.TemporaryDirectory() as tmp:
                fixture = Path(tmp) / "db.json"
                with gzip.open(src / db["file"], "rb") as fh, open(fixture, "wb") as out:
                    shutil.copyfileobj(fh, out)
                with transaction.atomic():
                    call_command("flush", verbosity=0, interactive=False)
                    call_command("loaddata", str(fixture), verbosity=0)

        media = Path(settings.MEDIA_ROOT)
        media.mkdir(parents=True, exist_ok=True)
        for child in media.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        shutil.copytree(src / "media", media, dirs_exist_ok=True)
        restored = {n: m for n, m in manifest["files"].items() if n.startswith("media/")}
        changed = [n for n, m in restored.items() if path_sha256(media / n.removeprefix("media/")) != m["sha256"]]
        if changed:
            raise CommandError(f"Files changed while copying: {changed[:3]}")
        self.stdout.write(f"Restored the database ({db['format']}, backup of {manifest['created_at']}) and "
                          f"{len(restored)} stored file(s) into {media}")
