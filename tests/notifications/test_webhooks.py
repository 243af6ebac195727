import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

from conversations import services as conversations
from helpdesk.celery import app as celery_app
from helpdesk.errors import ServiceError
from notifications import webhook_services as services
from notifications.models import WebhookDelivery, WebhookEndpoint
from visitors.services import visitor_customer_data_set

from ..factories import ConversationFactory, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _retries_run_at_once():
    """Run eagerly, Celery performs a retry at once (ignoring its countdown), but only when the task's
    Retry is not propagated to the caller as an error."""
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True


# Exactly as README.md ("Outbound webhooks") tells integrators to check a delivery.
def verify(secret: str, headers, body: bytes, tolerance: int = 300) -> bool:
    timestamp = headers["X-Helpdesk-Timestamp"]
    signed = f"{timestamp}.".encode() + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < tolerance
    return fresh and hmac.compare_digest(expected, headers["X-Helpdesk-Signature"])


class Receiver:
    """An integrator's webhook receiver on 127.0.0.1, answering each POST with the next status."""

    def __init__(self, statuses=(200,)):
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"try later")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/helpdesk"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    started = []

    def start(statuses=(200,)):
        started.append(Receiver(statuses))
        return started[-1]

    yield start
    for server in started:
        server.close()


def endpoint_for(receiver, events):
    return WebhookEndpoint.objects.create(url=receiver.url, events=events)


def test_resolving_a_conversation_posts_a_signed_event(receiver, full_agent, django_capture_on_commit_callbacks):
    server = receiver()
    endpoint = endpoint_for(server, ["conversation.resolved"])
    conversation = ConversationFactory()

    with django_capture_on_commit_callbacks(execute=True):
        conversations.conversation_resolve(conversation=conversation, actor=full_agent)

    [(headers, body)] = server.requests
    assert verify(endpoint.secret, headers, body)
    event = json.loads(body)
    assert event["type"] == "conversation.resolved"
    assert event["data"]["conversation"]["id"] == conversation.pk
    assert headers["X-Helpdesk-Event-Id"] == event["id"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempt_count) == (WebhookDelivery.Status.SUCCEEDED, 1)


def test_a_forged_signature_fails_the_readme_check(receiver, full_agent, django_capture_on_commit_callbacks):
    server = receiver()
    endpoint_for(server, ["conversation.resolved"])

    with django_capture_on_commit_callbacks(execute=True):
        conversations.conversation_resolve(conversation=ConversationFactory(), actor=full_agent)

    [(headers, body)] = server.requests
    assert not verify("whsec_someone-else", headers, body)
    assert not verify(WebhookEndpoint.objects.get().secret, headers, body.replace(b"resolved", b"reopened"))


def test_a_receiver_failing_twice_gets_it_on_the_third_attempt(
    receiver, full_agent, django_capture_on_commit_callbacks
):
    server = receiver(statuses=[500, 503, 200])
    endpoint_for(server, ["conversation.resolved"])

    with django_capture_on_commit_callbacks(execute=True):
        conversations.conversation_resolve(conversation=ConversationFactory(), actor=full_agent)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [a.status_code for a in delivery.attempts.all()] == [500, 503, 200]
    assert len({headers["X-Helpdesk-Event-Id"] for headers, _ in server.requests}) == 1


def test_a_receiver_that_keeps_failing_is_given_up_on(
    receiver, settings, full_agent, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    server = receiver(statuses=[500])
    endpoint_for(server, ["conversation.resolved"])

    with django_capture_on_commit_callbacks(execute=True):
        conversations.conversation_resolve(conversation=ConversationFactory(), actor=full_agent)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts.count() == 3


def test_an_unreachable_receiver_is_logged(settings, full_agent, django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    WebhookEndpoint.objects.create(url="http://127.0.0.1:9/nothing-listens", events=["conversation.resolved"])

    with django_capture_on_commit_callbacks(execute=True):
        conversations.conversation_resolve(conversation=ConversationFactory(), actor=full_agent)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert all(a.status_code is None and a.error for a in delivery.attempts.all())


def test_retries_back_off_exponentially():
    delays = [services.webhook_retry_delay(attempt) for attempt in range(1, 6)]

    assert delays == [30, 60, 120, 240, 480]
    assert services.webhook_retry_delay(50) == 6 * 3600


def test_only_the_chosen_events_are_sent(receiver, full_agent, django_capture_on_commit_callbacks):
    server = receiver()
    endpoint_for(server, ["visitor.updated"])

    with django_capture_on_commit_callbacks(execute=True):
        conversations.conversation_resolve(conversation=ConversationFactory(), actor=full_agent)

    assert server.requests == []


def test_an_inactive_endpoint_gets_nothing(receiver, full_agent, django_capture_on_commit_callbacks):
    server = receiver()
    WebhookEndpoint.objects.create(url=server.url, events=["conversation.resolved"], is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        conversations.conversation_resolve(conversation=ConversationFactory(), actor=full_agent)

    assert server.requests == []


def test_a_message_sent_through_the_api_is_a_webhook(receiver, agent, conversation, django_capture_on_commit_callbacks):
    server = receiver()
    endpoint_for(server, ["message.created"])

    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(agent).post(f"/api/v1/conversations/{conversation.pk}/messages/", {"body": "Hi"}, format="json")

    [(_headers, body)] = server.requests
    assert json.loads(body)["data"]["message"]["body"] == "Hi"


def test_customer_data_change_is_a_visitor_updated_webhook(receiver, visitor, django_capture_on_commit_callbacks):
    server = receiver()
    endpoint_for(server, ["visitor.updated"])

    with django_capture_on_commit_callbacks(execute=True):
        visitor_customer_data_set(visitor=visitor, data={"orders": {"label": "Orders", "value": 3}})

    [(_headers, body)] = server.requests
    assert json.loads(body)["data"]["visitor"]["customer_data"]["orders"]["value"] == 3


def test_the_owner_resends_a_delivery_from_the_admin(
    receiver, client, owner, full_agent, django_capture_on_commit_callbacks
):
    server = receiver()
    endpoint_for(server, ["conversation.resolved"])
    with django_capture_on_commit_callbacks(execute=True):
        conversations.conversation_resolve(conversation=ConversationFactory(), actor=full_agent)
    delivery = WebhookDelivery.objects.get()
    client.force_login(owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/notifications/webhookdelivery/",
            {"action": "resend", "_selected_action": [delivery.pk]},
        )

    assert response.status_code == 302
    assert len(server.requests) == 2
    assert server.requests[0][0]["X-Helpdesk-Event-Id"] == server.requests[1][0]["X-Helpdesk-Event-Id"]
    assert delivery.attempts.count() == 2


def test_the_resend_button_on_a_delivery(receiver, client, owner, full_agent, django_capture_on_commit_callbacks):
    server = receiver()
    endpoint_for(server, ["conversation.resolved"])
    with django_capture_on_commit_callbacks(execute=True):
        conversations.conversation_resolve(conversation=ConversationFactory(), actor=full_agent)
    delivery = WebhookDelivery.objects.get()
    client.force_login(owner)
    url = f"/admin/notifications/webhookdelivery/{delivery.pk}/change/"

    assert b'name="_resend"' in client.get(url).content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"_resend": "Resend", **_inline_management_form()})

    assert len(server.requests) == 2


def _inline_management_form() -> dict:
    prefix = "attempts"
    return {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "0"}


def test_unknown_events_are_refused():
    with pytest.raises(ServiceError) as refused:
        services.webhook_events_clean(["conversation.created", "conversation.exploded"])

    assert refused.value.field == "events"
    assert services.webhook_events_clean(["conversation.missed", "conversation.offline_message"])


@pytest.mark.parametrize(
    "url",
    ["/admin/notifications/webhookendpoint/", "/admin/notifications/webhookendpoint/add/", "/admin/helpdesk/apikey/"],
)
def test_owner_opens_webhook_and_key_admin_pages(client, owner, url):
    client.force_login(owner)

    assert client.get(url).status_code == 200


def test_a_delivery_for_a_webhook_switched_off_meanwhile_is_failed_not_sent(receiver):
    from notifications.tasks import deliver_webhook

    server = receiver()
    endpoint = endpoint_for(server, ["conversation.resolved"])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="conversation.resolved", payload={})
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)

    deliver_webhook.delay(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert server.requests == []


def test_a_delivery_already_made_is_not_sent_twice(receiver):
    from notifications.tasks import deliver_webhook

    server = receiver()
    endpoint = endpoint_for(server, ["conversation.resolved"])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="conversation.resolved", payload={})

    deliver_webhook.delay(delivery.pk)
    deliver_webhook.delay(delivery.pk)

    assert len(server.requests) == 1


def test_the_owner_registers_a_webhook_with_its_events(client, owner):
    client.force_login(owner)

    client.post(
        "/admin/notifications/webhookendpoint/add/",
        {
            "url": "https://crm.example.com/hooks",
            "events": ["conversation.created", "visitor.updated"],
            "is_active": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
        },
    )

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["conversation.created", "visitor.updated"]
    assert endpoint.secret.startswith("whsec_")


def test_only_the_owner_registers_changes_and_removes_webhooks(owner, full_agent):
    endpoint = services.webhook_endpoint_create(
        url=" https://crm.example.com/hooks ", events=["visitor.updated", "conversation.created"], actor=owner
    )

    for attempt in (
        lambda: services.webhook_endpoint_create(
            url="https://x.example.com/", events=["visitor.updated"], actor=full_agent
        ),
        lambda: services.webhook_endpoint_update(endpoint=endpoint, actor=full_agent, is_active=False),
        lambda: services.webhook_endpoint_delete(endpoint=endpoint, actor=full_agent),
    ):
        with pytest.raises(ServiceError) as refused:
            attempt()
        assert refused.value.code == "forbidden"

    assert endpoint.url == "https://crm.example.com/hooks"
    assert endpoint.events == ["conversation.created", "visitor.updated"]
    assert endpoint.secret.startswith("whsec_") and endpoint.is_active
    services.webhook_endpoint_update(endpoint=endpoint, actor=owner, is_active=False, description="CRM")
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.description) == (False, "CRM")
    services.webhook_endpoint_delete(endpoint=endpoint, actor=owner)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("url", {"url": "ftp://crm.example.com/hooks"}),
        ("url", {"url": "not a url"}),
        ("events", {"events": []}),
        ("events", {"events": ["conversation.exploded"]}),
    ],
)
def test_a_webhook_needs_an_http_address_and_known_events(owner, field, changes):
    endpoint = services.webhook_endpoint_create(url="https://crm.example.com/", events=["visitor.updated"], actor=owner)

    with pytest.raises(ServiceError) as created:
        services.webhook_endpoint_create(
            **({"url": "https://ok.example.com/", "events": ["visitor.updated"]} | changes), actor=owner
        )
    with pytest.raises(ServiceError) as changed:
        services.webhook_endpoint_update(endpoint=endpoint, actor=owner, **changes)

    assert created.value.field == changed.value.field == field


def test_a_webhook_address_too_long_to_store_is_refused_with_the_limit(owner):
    limit = WebhookEndpoint._meta.get_field("url").max_length
    base = "https://crm.example.com/"

    with pytest.raises(ServiceError) as refused:
        services.webhook_endpoint_create(
            url=base + "a" * (limit + 1 - len(base)), events=["visitor.updated"], actor=owner
        )

    assert refused.value.field == "url"
    assert f"at most {limit} characters" in refused.value.message
    assert services.webhook_endpoint_create(
        url=base + "a" * (limit - len(base)), events=["visitor.updated"], actor=owner
    )


def test_a_webhook_description_too_long_to_store_is_refused_not_cut(owner):
    limit = WebhookEndpoint._meta.get_field("description").max_length
    endpoint = services.webhook_endpoint_create(
        url="https://crm.example.com/", events=["visitor.updated"], description="d" * limit, actor=owner
    )

    with pytest.raises(ServiceError) as created:
        services.webhook_endpoint_create(
            url="https://ok.example.com/", events=["visitor.updated"], description="d" * (limit + 1), actor=owner
        )
    with pytest.raises(ServiceError) as changed:
        services.webhook_endpoint_update(endpoint=endpoint, actor=owner, description="e" * (limit + 1))

    assert created.value.field == changed.value.field == "description"
    assert str(limit) in created.value.message
    endpoint.refresh_from_db()
    assert endpoint.description == "d" * limit
    assert WebhookEndpoint.objects.count() == 1


def test_the_owner_changes_and_removes_a_webhook_in_the_admin(client, owner):
    endpoint = services.webhook_endpoint_create(url="https://crm.example.com/", events=["visitor.updated"], actor=owner)
    url = f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/"
    form = {
        "description": "CRM",
        "events": ["visitor.updated"],
        "deliveries-TOTAL_FORMS": "0",
        "deliveries-INITIAL_FORMS": "0",
    }
    client.force_login(owner)

    refused = client.post(url, form | {"url": "ftp://crm.example.com/", "is_active": "on"})
    client.post(url, form | {"url": "https://crm.example.com/v2"})
    endpoint.refresh_from_db()
    client.post(f"/admin/notifications/webhookendpoint/{endpoint.pk}/delete/", {"post": "yes"})

    assert "Enter an http or https address." in refused.content.decode()
    assert (endpoint.url, endpoint.description, endpoint.is_active) == ("https://crm.example.com/v2", "CRM", False)
    assert not WebhookEndpoint.objects.exists()


def test_a_webhooks_signing_secret_is_shown_once_then_masked_in_the_admin(client, owner):
    form = {
        "events": ["visitor.updated"],
        "is_active": "on",
        "deliveries-TOTAL_FORMS": "0",
        "deliveries-INITIAL_FORMS": "0",
    }
    client.force_login(owner)

    added = client.post("/admin/notifications/webhookendpoint/add/", form | {"url": "https://crm.example.com/"})
    endpoint = WebhookEndpoint.objects.get()
    url = f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/"
    change_page = client.get(url).content.decode()
    list_page = client.get("/admin/notifications/webhookendpoint/").content.decode()
    replaced = client.post(url, form | {"url": "https://crm.example.com/", "_rotate_secret": "Replace"})
    new_secret = WebhookEndpoint.objects.get().secret

    assert endpoint.secret in added.content.decode()
    assert endpoint.secret not in change_page and endpoint.secret not in list_page
    assert f"•••• {endpoint.secret[-4:]}" in change_page
    assert new_secret != endpoint.secret and new_secret in replaced.content.decode()
    assert new_secret not in client.get(url).content.decode()


def test_only_the_owner_replaces_a_signing_secret(owner, full_agent):
    endpoint = services.webhook_endpoint_create(url="https://crm.example.com/", events=["visitor.updated"], actor=owner)

    with pytest.raises(ServiceError) as refused:
        services.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=full_agent)
    rotated = services.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=owner)

    assert refused.value.code == "forbidden"
    assert rotated.secret != endpoint.secret and rotated.secret.startswith("whsec_")


def deliveries_after_reopening_and_resolving(conversation, agent) -> list[str]:
    """The event types delivered (from none) for reopening and resolving the conversation, each in a
    transaction of its own, as in production."""
    WebhookDelivery.objects.all().delete()
    conversations.conversation_reopen(conversation=conversation, actor=agent)
    conversations.conversation_resolve(conversation=conversation, actor=agent)
    return sorted(WebhookDelivery.objects.values_list("event_type", flat=True))


@pytest.mark.django_db(transaction=True)
def test_webhooks_changed_outside_the_events_transaction_are_heard_from_the_next_event(owner, full_agent):
    """As in production: events are heard after their transaction commits, and each process keeps
    which events the endpoints want until an endpoint is saved or deleted."""
    resolved = ConversationFactory()

    def deliveries_after_an_event():
        return deliveries_after_reopening_and_resolving(resolved, full_agent)

    assert deliveries_after_an_event() == []  # nobody listens: the answer is kept
    endpoint = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/hooks", events=["conversation.resolved"])
    assert deliveries_after_an_event() == ["conversation.resolved"]
    services.webhook_endpoint_update(endpoint=endpoint, actor=owner, events=["conversation.reopened"])
    assert deliveries_after_an_event() == ["conversation.reopened"]
    services.webhook_endpoint_update(endpoint=endpoint, actor=owner, is_active=False)
    assert deliveries_after_an_event() == []
    services.webhook_endpoint_update(endpoint=endpoint, actor=owner, is_active=True)
    services.webhook_endpoint_delete(endpoint=endpoint, actor=owner)
    assert deliveries_after_an_event() == []


@pytest.mark.django_db(transaction=True)
def test_a_webhook_added_by_another_process_is_heard_within_a_second(full_agent, monkeypatch):
    """Each process asks the shared cache whether the endpoints changed at most once a second."""
    now = [time.monotonic()]
    monkeypatch.setattr(services, "_clock", lambda: now[0])
    resolved = ConversationFactory()

    def deliveries_after_an_event():
        return deliveries_after_reopening_and_resolving(resolved, full_agent)

    assert deliveries_after_an_event() == []
    # Another process stores an endpoint and a new generation: none of this process's signals fire.
    WebhookEndpoint.objects.bulk_create(
        [WebhookEndpoint(url="http://127.0.0.1:9/hooks", events=["conversation.reopened", "conversation.resolved"])]
    )
    cache.set(services.GENERATION_KEY, "another-process")
    now[0] += services.GENERATION_RECHECK_SECONDS

    assert deliveries_after_an_event() == ["conversation.reopened", "conversation.resolved"]
