"""Schemathesis against the live API: a real uvicorn process on the test database, real HTTP, a real
API key; every operation of the OpenAPI schema gets generated requests, and none may answer 5xx."""

import subprocess
import sys

import pytest
from django.db import connection

from helpdesk import services
from helpdesk.models import Agent

from ..factories import AgentFactory, ConversationFactory, TagFactory
from ..live_servers import ROOT, Server

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(redis_url):
    if connection.vendor != "postgresql":
        pytest.skip("a separate server process needs a shared database server: runs with DATABASE_URL (PostgreSQL)")
    started = Server(redis_url)
    yield started
    started.stop()


def test_no_generated_request_gets_a_server_error(server):
    owner = AgentFactory(role=Agent.Role.OWNER)
    ConversationFactory.create_batch(3, tags=[TagFactory(name="vip")])
    _api_key, key = services.api_key_create(actor=owner, agent=owner, name="fuzz", read_only=False)
    schema = f"http://127.0.0.1:{server.port}/api/v1/schema/"

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            schema,
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {key}",
            "--max-examples",
            "8",
            "--request-timeout",
            "20",
            "--seed",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
