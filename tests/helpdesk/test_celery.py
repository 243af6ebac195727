import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent(
    """
    import threading, time
    import django
    django.setup()
    from helpdesk.celery import app, start_embedded_worker

    ran = threading.Event()

    @app.task
    def probe():
        ran.set()

    start_embedded_worker()
    started = time.monotonic()
    probe.apply_async(countdown=1)
    print("ran" if ran.wait(20) and time.monotonic() - started >= 1 else "did not run")
    """
)


def test_embedded_worker_runs_delayed_tasks_inside_the_server_process():
    """The embedded default has no broker process: the server's own worker thread must run tasks,
    including delayed ones."""
    env = {"DJANGO_SETTINGS_MODULE": "helpdesk.settings", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.stdout.strip() == "ran", result.stderr[-2000:]


def test_every_periodic_task_names_a_task_the_worker_knows():
    """A misspelt name in the beat schedule fails only when its time comes, in the worker's log."""
    from django.conf import settings

    from helpdesk.celery import app

    app.loader.import_default_modules()  # what a worker does at start: finds each app's tasks module

    assert [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] not in app.tasks] == []


def test_the_daily_purges_run_once_a_day_though_the_server_restarts_every_few_hours():
    """Beat keeps no record of its last runs on the embedded default: each restart starts afresh."""
    from datetime import UTC, datetime, timedelta

    import time_machine
    from celery.schedules import maybe_schedule
    from django.conf import settings

    from helpdesk.celery import app

    purges = {name: entry for name, entry in settings.CELERY_BEAT_SCHEDULE.items() if ".purge_" in entry["task"]}
    assert len(purges) >= 3
    for name, entry in purges.items():
        schedule = maybe_schedule(entry["schedule"], app=app)
        runs = []
        for restart in range(8):  # every 6 hours for two days
            started = last_run = datetime(2026, 12, 1, 0, 5, tzinfo=UTC) + timedelta(hours=6 * restart)
            for minute in range(0, 6 * 60, 5):
                with time_machine.travel(started + timedelta(minutes=minute), tick=False):
                    if schedule.is_due(last_run).is_due:
                        last_run = datetime.now(UTC)
                        runs.append(last_run)
        assert len(runs) == 2, (name, runs)
