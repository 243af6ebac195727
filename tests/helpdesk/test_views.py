import pytest
from channels.layers import channel_layers

from ..factories import PASSWORD, ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_channel_layers():
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def test_healthz_reports_every_dependency_ok(client, fresh_channel_layers):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "ok", "status": "ok"}


def test_healthz_names_the_failing_dependency(client, settings, fresh_channel_layers):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1"]}}
    }

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["status"] == "failing"
    assert "Connect" in body["channel_layer"] or "refused" in body["channel_layer"].lower()


@pytest.mark.redis
def test_healthz_round_trips_through_redis(client, settings, redis_url, fresh_channel_layers):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}
    }

    assert client.get("/healthz").json()["channel_layer"] == "ok"


def test_login_page_is_served(client):
    response = client.get("/login/")

    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_dashboard_needs_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_agent_logs_in_and_sees_open_conversations_with_counts(client, agent, colleague):
    ConversationFactory(visitor__name="Vera Visitor")

    response = client.post("/login/", {"username": agent.email.upper(), "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == "/"
    page = response.content.decode()
    assert "Vera Visitor" in page
    assert 'aria-current="page"' in page
    assert [count for _, count in response.context["tabs"]] == [1, 1, 1, 0]


def test_wrong_password_is_refused_with_a_message(client, agent):
    response = client.post("/login/", {"username": agent.email, "password": "wrong"})

    assert response.status_code == 200
    assert b'role="alert"' in response.content


def test_dashboard_speaks_the_agents_language(client, agent):
    agent.language = "hu"
    agent.save()
    client.force_login(agent)

    assert client.get("/").headers["Content-Language"] == "hu"
