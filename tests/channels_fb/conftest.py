import hashlib
import hmac
import json
from pathlib import Path

import pytest

from .factories import APP_SECRET, FacebookPageFactory
from .graph_standin import GraphStandIn, start

FIXTURES = Path(__file__).parent / "fixtures"
WEBHOOK = "/channels/facebook/webhook"


def fixture_body(name: str) -> bytes:
    """A webhook payload exactly as Facebook posts it (raw bytes: the signature covers them)."""
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_payload(name: str) -> dict:
    return json.loads(fixture_body(name))


def signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def page(db):
    return FacebookPageFactory()


@pytest.fixture
def post_webhook(client, page):
    def post(body: bytes | dict | str, *, secret: str = APP_SECRET, signed: bool = True):
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = fixture_body(body)
        headers = {"HTTP_X_HUB_SIGNATURE_256": signature(body, secret)} if signed else {}
        return client.post(WEBHOOK, data=body, content_type="application/json", **headers)

    return post


@pytest.fixture(scope="session")
def _graph_server():
    standin = GraphStandIn()
    server = start(standin)
    yield standin
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def graph(_graph_server, settings):
    """The Graph API stand-in with a fresh script and record for each test; every test here talks to it,
    so none ever calls the real Facebook."""
    _graph_server.reset()
    settings.FACEBOOK_GRAPH_URL = _graph_server.url
    return _graph_server


@pytest.fixture
def retries_run_inline():
    """Celery runs a retried task again at once in eager mode, but only when it does not propagate the
    Retry it raises; the countdown is skipped, so backoff costs the test no time."""
    from helpdesk.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True
