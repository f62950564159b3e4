#!/usr/bin/env python3
"""One-command setup for assb-lab.

    python3 quickstart.py          # venv + pinned deps, migrate, demo data, web app + Celery worker on :8000
    python3 quickstart.py test     # venv + pinned dev deps, then the whole pytest suite

Embedded default: SQLite and a serverless Celery broker under var/, no external service needed.
Set DATABASE_URL / CELERY_BROKER_URL to run the same against PostgreSQL / Redis.
"""
import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
HOST, PORT = os.environ.get("ASSB_HOST", "127.0.0.1"), int(os.environ.get("ASSB_PORT", "8000"))


def run(*args, **kwargs):
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT, **kwargs)


def ensure_venv(requirements: str) -> None:
    """Create .venv and install the pinned requirements, again only when the files change."""
    if sys.version_info < (3, 11):  # noqa: UP036 -- this file may be started by an older python3
        sys.exit("assb-lab needs Python 3.11 or newer.")
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256()
    for name in ("requirements.txt", "requirements-dev.txt"):
        digest.update((ROOT / name).read_bytes())
    stamp = VENV / f".installed-{requirements}"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", requirements)
    stamp.write_text(digest.hexdigest())


def wait_for_server(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"The web server did not answer at {url} within {timeout_s:.0f} s.")


def serve() -> None:
    ensure_venv("requirements.txt")
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
    manage = [PY, "manage.py"]
    run(*manage, "migrate", "--noinput", env=env)
    run(*manage, "vendor_static", env=env)
    run(*manage, "collectstatic", "--noinput", "-v", "0", env=env)
    run(*manage, "setup_demo", "--registry-only", env=env)
    # The children get a session of their own: Ctrl-C reaches only this script, which then stops each of them
    # once (a second SIGINT from the terminal would make Celery abandon its warm shutdown with a traceback).
    detached = {"start_new_session": True} if os.name != "nt" else {}
    procs = [
        # -B: the beat scheduler runs the sweeper that re-sends stale uploads (see README).
        subprocess.Popen([str(BIN / "celery"), "-A", "assb_lab", "worker", "-B", "-l", "info", "-c", "2",
                          "--without-mingle", "--without-gossip", "-n", "demo@%h"], cwd=ROOT, env=env, **detached),
        subprocess.Popen([str(PY), "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"], cwd=ROOT, env=env,
                         **detached),
    ]
    try:
        wait_for_server(f"http://{HOST}:{PORT}/healthz")
        # In a session of its own too: a Ctrl-C while it uploads stops it quietly (subprocess.run kills it).
        run(*manage, "setup_demo", "--upload", f"http://{HOST}:{PORT}", env=env, **detached)
        print(f"\nassb-lab is running at http://{HOST}:{PORT}/  (Ctrl-C stops web server and worker)\n", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping the web server and the worker...", flush=True)
    except subprocess.CalledProcessError as exc:
        print(f"\n{exc}", flush=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT if os.name != "nt" else signal.CTRL_C_EVENT)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test(extra: list[str]) -> None:
    ensure_venv("requirements-dev.txt")
    result = subprocess.run([str(PY), "-m", "pytest", *extra], cwd=ROOT)
    sys.exit(result.returncode)


if __name__ == "__main__":
    try:
        if len(sys.argv) > 1 and sys.argv[1] == "test":
            test(sys.argv[2:])
        else:
            serve()
    except KeyboardInterrupt:  # Ctrl-C during set-up: no traceback, the user asked for it
        sys.exit(130)
