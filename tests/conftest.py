import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from helpdesk import rows
from helpdesk import services as account_services
from helpdesk.celery import app as celery_app
from helpdesk.models import Agent, AgentOnlineSpan

from .factories import AgentFactory, ConversationFactory, VisitorFactory

IN_CI = bool(os.environ.get("CI"))


def pytest_configure(config):
    from django.conf import settings

    # Hashing a password the production way takes a fifth of a second; tests create hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite the test database is a file, not Django's shared in-memory one: the browser tests
    serve the helpdesk from threads, and in memory a reader and a writer in two threads fail at once
    ("database table is locked") where a file waits its turn."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("database") / "test.sqlite3")


@pytest.fixture(autouse=True, scope="session")
def _celery_runs_tasks_in_the_test():
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True, scope="session")
def _close_thread_connections_before_dropping_the_test_database(django_db_setup, django_db_blocker):
    """Websocket consumers run database work in worker threads, which keep their connections; on
    PostgreSQL the test database cannot be dropped while they are open."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(autouse=True)
def _fresh_presence(settings):
    """Presence lives outside the database (process memory or Redis): each test starts with none."""
    from visitors.presence import presence

    presence.cache_clear()
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("helpdesk:presence*"):
            client.delete(key)
    yield
    presence.cache_clear()


@pytest.fixture(autouse=True)
def _agents_availability_not_remembered_between_tests(monkeypatch):
    """The chat box's "is anyone online" answer is kept for a few seconds by each process: a test
    that had an agent online must not make the next one see them."""
    from helpdesk import selectors

    monkeypatch.setattr(selectors, "_available", None)


@pytest.fixture(autouse=True)
def _each_test_starts_in_the_default_language():
    """A request by an agent who reads Hungarian leaves Hungarian active in the thread (LocaleMiddleware
    sets each request's language anew, so requests do not inherit it): a later test must not."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture
def in_process_channel_layer(settings):
    """For a server running in a thread of the test process (the browser tests): its own in-memory
    channel layer. A Redis layer object refuses to receive from two event loops at once, and the
    test's loop and the server thread's are two; Redis across processes has tests of its own."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def owner(db):
    return AgentFactory(role=Agent.Role.OWNER, name="Olga Owner")


@pytest.fixture
def full_agent(db):
    return AgentFactory(role=Agent.Role.FULL, name="Fanni Full")


@pytest.fixture
def agent(db):
    """A limited agent, online."""
    return AgentFactory(role=Agent.Role.LIMITED, name="Lili Limited", online=True)


@pytest.fixture
def colleague(db):
    return AgentFactory(role=Agent.Role.LIMITED, name="Csaba Colleague", online=True)


@pytest.fixture
def visitor(db):
    return VisitorFactory(name="Vera Visitor", email="vera@example.com")


@pytest.fixture
def conversation(visitor):
    return ConversationFactory(visitor=visitor)


def row_versions_committed(test):
    """For a write that holds only while a row is the version read (`rows.writes_if_unchanged`):
    PostgreSQL only, and each step commits, since a row's version changes with each transaction."""
    test = pytest.mark.django_db(transaction=True)(test)
    return pytest.mark.skipif(not rows.writes_if_unchanged(), reason="rows carry versions on PostgreSQL")(test)


def online(agent: Agent) -> Agent:
    return account_services.agent_set_status(agent=agent, status=Agent.Status.ONLINE)


def gone_offline(agent: Agent) -> Agent:
    """The agent's dashboard stopped sending heartbeats an hour ago."""
    agent.last_seen_at = timezone.now() - timedelta(hours=1)
    agent.save(update_fields=["last_seen_at"])
    AgentOnlineSpan.objects.filter(agent=agent).update(
        until=agent.last_seen_at + timedelta(seconds=settings.AGENT_PRESENCE_TTL)
    )
    return agent


def service_url(variable: str, default_in_ci: str) -> str:
    """The URL of an external service a test needs: from the environment, else (in CI) the local one,
    else the test is skipped. In CI a missing service fails the test instead of skipping it."""
    url = os.environ.get(variable) or (default_in_ci if IN_CI else "")
    if not url:
        pytest.skip(f"{variable} is not set")
    return url


@pytest.fixture
def redis_url():
    import redis

    url = service_url("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if IN_CI:
            pytest.fail(f"Redis at {url} is not reachable: {error}")
        pytest.skip(f"Redis at {url} is not reachable")
    return url
