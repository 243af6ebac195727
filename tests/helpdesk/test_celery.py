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
