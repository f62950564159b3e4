"""docker-compose.yml scales: one beat, workers without -B or fixed names/ports, health checks, real settings.

Docker cannot run here, so the file itself is read and checked against what the code expects.
"""
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from stack import WORKER_NICE, ProductionStack  # noqa: E402  (bench/stack.py: how the load tests start workers)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _argv(service: dict) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def _env_names_read_by_the_code() -> set[str]:
    """Every environment variable the settings (and the apps) read through assb_lab.env or os.environ."""
    names = set()
    for path in [*ROOT.glob("assb_lab/*.py"), *ROOT.glob("*/apps.py")]:
        text = path.read_text()
        names |= set(re.findall(r'env_(?:str|int|bool|list)\(\s*"([A-Z0-9_]+)"', text))
        names |= set(re.findall(r'os\.environ(?:\.get)?[\(\[]\s*"([A-Z0-9_]+)"', text))
    return names


def _celery_role(service: dict) -> str | None:
    argv = _argv(service)
    if "celery" not in argv:
        return None
    return next((word for word in argv if word in ("worker", "beat")), None)


def test_it_runs_exactly_one_beat_as_its_own_service(services):
    beats = [name for name, svc in services.items() if _celery_role(svc) == "beat"]
    assert beats == ["beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_it_runs_no_beat_inside_the_worker(services):
    workers = [name for name, svc in services.items() if _celery_role(svc) == "worker"]
    assert workers == ["worker"]
    argv = _argv(services["worker"])
    assert "-B" not in argv and "--beat" not in argv


def test_it_lets_the_worker_scale(services):
    worker = services["worker"]
    assert "container_name" not in worker  # a fixed name makes `--scale worker=4` refuse
    assert "ports" not in worker  # a fixed host port would clash between replicas
    argv = _argv(worker)
    argv = argv[argv.index("celery"):]  # after the `nice -n 10` wrapper
    # Each replica needs its own node name (hostname-based) so a ping reaches exactly that one.
    assert "-n" in argv and "%h" in argv[argv.index("-n") + 1]


def test_it_runs_ingest_below_the_webs_cpu_priority_as_the_load_stack_does(services):
    argv = _argv(services["worker"])
    assert argv[:3] == ["nice", "-n", str(WORKER_NICE)] and WORKER_NICE == 10
    assert "nice" not in _argv(services["web"])
    stack_argv = ProductionStack.worker_argv(object.__new__(ProductionStack), "w0", 1)
    assert stack_argv[:3] == argv[:3] and "celery" in stack_argv


# The kernel's CPU weight of nice 0 and nice 10 (sched_prio_to_weight in kernel/sched/core.c).
NICE_WEIGHT = {0: 1024, 10: 110}


def test_it_gives_the_worker_container_the_cpu_weight_of_its_nice_value(services):
    """Between containers the kernel weighs cgroups, not nice values: without cpu_shares the worker container
    would get as much CPU as the web's under contention, whatever its `nice -n 10` says."""
    assert services["worker"]["cpu_shares"] == NICE_WEIGHT[WORKER_NICE]
    assert services["web"].get("cpu_shares", NICE_WEIGHT[0]) == NICE_WEIGHT[0]


@pytest.mark.parametrize("name", ["web", "worker", "beat", "db", "redis"])
def test_it_has_a_health_check_for(services, name):
    test = services[name].get("healthcheck", {}).get("test")
    assert test and test[0] in ("CMD", "CMD-SHELL")


def test_it_pings_the_worker_by_its_own_node_name(services):
    check = " ".join(services["worker"]["healthcheck"]["test"][1:])
    assert "inspect ping" in check and "celery@$$HOSTNAME" in check  # $$: compose must not expand it


def test_it_starts_the_app_only_after_its_dependencies_are_ready(services):
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert _argv(services["migrate"])[-2:] == ["migrate", "--noinput"]
    for name in ("web", "worker", "beat"):  # scaled services never migrate themselves
        assert "migrate" not in _argv(services[name])


def test_it_sets_only_environment_variables_the_settings_read(services):
    read = _env_names_read_by_the_code()
    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        unknown = set(env) - read
        assert not unknown, f"{name} sets {sorted(unknown)}, which no setting reads"
        for needed in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_VISIBILITY_TIMEOUT", "ASSB_INGEST_LEASE_S",
                       "ASSB_SWEEP_EVERY_S", "STORAGE_BACKEND"):
            assert needed in env, f"{name} lacks {needed}"


def test_it_points_the_app_at_the_compose_database_and_broker(services):
    env = services["worker"]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
    assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
    assert services["web"]["environment"] == env == services["beat"]["environment"]


def test_it_keeps_redis_data_across_a_restart(services):
    assert "--appendonly yes" in services["redis"]["command"]


def test_it_reads_the_settings_names_that_the_test_checks_against():
    # Guards the helper above: if it found nothing, the env test would pass vacuously.
    read = _env_names_read_by_the_code()
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_VISIBILITY_TIMEOUT", "STORAGE_BACKEND"} <= read


# --- the health checks' commands, run for real against a private Redis (no docker needed) ----------------

def _local(argv: list[str]) -> list[str]:
    """A compose command with `celery` run from this venv (behind its `nice -n N` wrapper, if any)."""
    if "celery" not in argv:
        return argv
    at = argv.index("celery")
    return [*argv[:at], sys.executable, "-m", "celery", *argv[at + 1:]]


def _shell(check: list[str]) -> str:
    """A CMD-SHELL health check as the container's shell sees it ($$ is compose's escape for $)."""
    command = check[1].replace("$$", "$")
    return command.replace("celery ", f"{sys.executable} -m celery ", 1) if command.startswith("celery ") else command


@pytest.mark.integration
def test_the_worker_health_check_pings_the_worker_that_compose_starts(services, tmp_path):
    from tests.hardening.procs import PrivateRedis

    redis = PrivateRedis().start()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "ASSB_VAR_DIR": str(tmp_path / "var"),
           "CELERY_BROKER_URL": redis.url(), "HOSTNAME": socket.gethostname(), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(_local(_argv(services["worker"])), cwd=ROOT, env=env, stdout=log.open("wb"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text(errors="replace"):
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        check = _shell(services["worker"]["healthcheck"]["test"])
        healthy = subprocess.run(check, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        assert "pong" in healthy.stdout
        # Another replica's name gets no answer: the check is about this container's worker only.
        other = subprocess.run(check, shell=True, cwd=ROOT, env={**env, "HOSTNAME": "some-other-replica"},
                               capture_output=True, text=True, timeout=60)
        assert other.returncode != 0
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        redis.destroy()


def test_the_beat_health_check_passes_on_a_fresh_schedule_and_fails_on_a_stale_one(services, tmp_path):
    check = services["beat"]["healthcheck"]["test"]
    assert check[:2] == ["CMD", "python"]
    argv = [sys.executable, *check[2:]]
    argv[-1] = argv[-1].replace("/data/var/", f"{tmp_path}/")
    schedule = tmp_path / "celerybeat-schedule.db"
    schedule.write_bytes(b"")
    assert subprocess.run(argv, timeout=30).returncode == 0
    stale = time.time() - 600
    os.utime(schedule, (stale, stale))
    assert subprocess.run(argv, timeout=30).returncode != 0
