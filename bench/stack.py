"""What both benchmarks start on this machine: a fresh PostgreSQL database, the helpdesk in production
mode (DEBUG off) served by uvicorn processes, and Django set up in the benchmark's own process."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PG_URL = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
SECRET = "bench-secret-key-not-for-production"


def production_environment(*, database: str, redis_url: str, **extra: str) -> dict:
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "0",
        "DATABASE_URL": f"{PG_URL}/{database}",
        "REDIS_URL": redis_url,
        "CELERY_EMBEDDED_WORKER": "0",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        **extra,
    }


def fresh_database(database: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        pg.execute(f'CREATE DATABASE "{database}"')


def setup_django(environment: dict, *, migrate: bool = True) -> None:
    """Django in this process, on the same settings as the servers (to create agents, keys, sessions)."""
    os.environ.update(environment)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One uvicorn process serving an ASGI app on 127.0.0.1, with the Dockerfile's websocket options."""

    def __init__(self, app: str, environment: dict):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning", "--no-access-log", "--ws-per-message-deflate", "false"],
            cwd=ROOT,
            env=environment,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"{app} did not start") from None
                time.sleep(0.1)
        self.ps = psutil.Process(self.process.pid)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return self.url

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def percentiles(values: list[float], quantiles=(0.50, 0.95, 0.99)) -> dict:
    """In milliseconds, from samples in seconds."""
    if not values:
        return {f"p{round(q * 100)}": None for q in quantiles}
    ordered = sorted(values)
    return {
        f"p{round(q * 100)}": round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2) for q in quantiles
    }
