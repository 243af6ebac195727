"""A real Celery worker (and beat) on the Redis broker, sending to a real SMTP server on 127.0.0.1,
sharing PostgreSQL with the test: as in production. Also workers that die with a check in hand."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection

from conversations import services as conversation_services
from helpdesk.celery import app as celery_app
from notifications.models import Episode
from visitors import services as visitor_services
from visitors.presence import presence
from visitors.tasks import settle_departure

from ..factories import AgentFactory, VisitorFactory

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def database_url_of_the_test_database() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


class Worker:
    """`celery -A helpdesk worker -B` in its own process; its log is kept to wait on."""

    def __init__(self, *, redis_url: str, smtp_port: int, schedule: Path):
        env = {
            **os.environ,
            "DATABASE_URL": database_url_of_the_test_database(),
            "REDIS_URL": redis_url,
            "CELERY_EMBEDDED_WORKER": "0",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "NOTIFICATION_SWEEP_SECONDS": "1",
            "LOG_LEVEL": "INFO",
        }
        self.log: list[str] = []
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool=solo", "--loglevel=INFO"),
                *("--without-heartbeat", "--without-mingle", "--without-gossip"),
                *("-n", f"notifications-test-{uuid.uuid4().hex[:8]}@localhost", "-B", "-s", str(schedule)),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own process group: `-B` runs beat in a child process, which must die with the worker
            # (a SIGKILL to the worker alone left beat running after the tests).
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self.wait_for("ready."):
            self.stop()
            raise RuntimeError("the worker did not start:\n" + "".join(self.log[-40:]))

    def _read(self):
        for line in self.process.stdout:
            self.log.append(line)

    def wait_for(self, *texts: str, timeout: float = 30) -> bool:
        """Until a line of the log has every one of `texts`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(all(text in line for text in texts) for line in self.log):
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def kill(self):
        """Dies at once, as in a power cut or the OOM killer: nothing is acknowledged or cleaned up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever of the group is left, beat included


@pytest.fixture
def broker(redis_url, settings):
    """Tasks go to the Redis broker instead of running in the test."""
    if connection.vendor != "postgresql":
        pytest.skip("a worker process needs a shared database server: runs with DATABASE_URL (PostgreSQL)")
    if celery_app.conf.broker_url != redis_url:
        pytest.skip("runs with REDIS_URL set, so that this process sends its tasks to the same broker")
    client = redis.Redis.from_url(redis_url)
    client.delete("celery", "unacked", "unacked_index", "unacked_mutex")  # left over by an earlier run
    settings.NOTIFICATION_OFFLINE_DELAY = 2
    celery_app.conf.task_always_eager = False
    yield client
    celery_app.conf.task_always_eager = True


@pytest.fixture
def start_worker(broker, redis_url, smtp_server, settings, tmp_path):
    started = []

    def start() -> Worker:
        worker = Worker(redis_url=redis_url, smtp_port=settings.EMAIL_PORT, schedule=tmp_path / f"beat-{len(started)}")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def emails_arrive(smtp_server, count: int, timeout: float = 30) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(smtp_server.envelopes) < count:
        time.sleep(0.05)
    return smtp_server.mails


def nothing_more_arrives(smtp_server, count: int, quiet: float = 2.5) -> bool:
    """No further email within a few sweeps of the worker's beat."""
    time.sleep(quiet)
    return len(smtp_server.envelopes) == count


def writes(visitor, body="Hello, is anyone there?"):
    return conversation_services.visitor_message_create(visitor=visitor, body=body)


def leaves_the_website(visitor):
    """Her last chat box closed longer ago than the grace period (so no test waits for it)."""
    presence().disconnect(visitor.pk, "tab-1", now=time.time() - 120)


def test_a_real_worker_emails_an_offline_message_and_a_missed_conversation(start_worker, smtp_server):
    start_worker()
    AgentFactory(email="seller@example.com")

    writes(VisitorFactory(name="Vera"))
    mails = emails_arrive(smtp_server, 1)
    assert [(mail["To"], mail["Subject"]) for mail in mails] == [("seller@example.com", "New message from Vera")]

    onliner = AgentFactory(email="online@example.com", online=True)
    victor = VisitorFactory(name="Victor")
    presence().connect(victor.pk, "tab-1")
    writes(victor, "Where is my parcel?")
    leaves_the_website(victor)
    settle_departure.delay(victor.pk)  # as the chat box does when it closes: the worker announces it

    mails = emails_arrive(smtp_server, 2)
    assert (mails[1]["To"], mails[1]["Subject"]) == (onliner.email, "Missed conversation with Victor")
    assert "Where is my parcel?" in mails[1].get_body(("plain",)).get_content()
    assert nothing_more_arrives(smtp_server, 2)  # the offline seller is not told about Victor


def test_a_worker_killed_holding_the_delayed_check_still_ends_in_exactly_one_email(start_worker, smtp_server):
    first = start_worker()
    AgentFactory(email="seller@example.com")

    writes(VisitorFactory(name="Vera"))
    assert first.wait_for("notifications.tasks.send_notification[", "received")
    first.kill()  # it held the delayed check, unacknowledged: the broker hands it out only in an hour

    start_worker()  # its beat's sweep finds the check that is due
    assert len(emails_arrive(smtp_server, 1)) == 1
    assert nothing_more_arrives(smtp_server, 1)
    assert Episode.objects.get().state == Episode.State.SENT


def test_a_worker_dead_when_the_visitor_leaves_and_a_lost_check_still_end_in_exactly_one_email(
    start_worker, smtp_server, broker
):
    first = start_worker()
    AgentFactory(email="online@example.com", online=True)
    victor = VisitorFactory(name="Victor")
    presence().connect(victor.pk, "tab-1")
    writes(victor)
    first.kill()

    leaves_the_website(victor)
    assert visitor_services.visitor_settle_departure(visitor_id=victor.pk)  # the check is enqueued...
    broker.delete("celery")  # ...and lost, as an in-memory broker loses it when its process restarts
    assert smtp_server.envelopes == []

    start_worker()
    assert len(emails_arrive(smtp_server, 1)) == 1
    assert nothing_more_arrives(smtp_server, 1)
