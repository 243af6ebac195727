"""The Celery app. In production a separate `celery worker` and `celery beat` consume the Redis
broker; on the embedded default the server process runs both in threads on an in-memory broker."""

import logging
import os
import threading

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)
_embedded_lock = threading.Lock()
_embedded_started = False


def start_embedded_worker() -> None:
    """Start a worker and beat in daemon threads of this process (once), for the embedded default.

    The in-memory broker only exists inside one process, so the worker must live where the tasks
    are sent from: the server process.
    """
    global _embedded_started
    with _embedded_lock:
        if _embedded_started:
            return
        _embedded_started = True

    from celery.beat import EmbeddedService
    from celery.worker import WorkController

    app.finalize()
    app.set_current()
    app.set_default()
    worker = WorkController(
        app=app,
        pool="threads",
        concurrency=2,
        hostname="embedded@localhost",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    threading.Thread(target=worker.start, name="celery-embedded-worker", daemon=True).start()
    EmbeddedService(app, thread=True, scheduler_cls="celery.beat:Scheduler").start()
    logger.info("Started the embedded Celery worker and beat (in-memory broker).")
