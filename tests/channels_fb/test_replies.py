"""Agents' replies going out through the Send API, against the Graph API stand-in."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_fb import services
from channels_fb.models import FacebookPage, SentPart
from channels_fb.tasks import send_message
from conversations import services as conversation_services
from conversations.models import Channel, Message
from helpdesk.errors import ServiceError

from ..factories import ConversationFactory
from .factories import PAGE_ID, PSID, MessengerContactFactory
from .graph_standin import RATE_LIMITED, TEMPORARY_ERROR, TOKEN_EXPIRED, USER_UNAVAILABLE, WINDOW_CLOSED

pytestmark = pytest.mark.django_db

SEND = ("POST", f"/{PAGE_ID}/messages")


@pytest.fixture
def contact(page):
    return MessengerContactFactory(page=page, psid=PSID)


@pytest.fixture
def conversation(contact):
    return ConversationFactory(channel=Channel.MESSENGER, visitor=contact.visitor)


@pytest.fixture
def reply(conversation, agent, django_capture_on_commit_callbacks):
    """The agent replies in the dashboard; the deliverer sends it after commit (Celery runs eagerly)."""

    def reply(body: str = "Your parcel left our warehouse this morning.") -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            message = conversation_services.message_create(
                conversation=conversation, author="agent", agent=agent, body=body
            )
        message.refresh_from_db()
        return message

    return reply


def customer_wrote(contact, ago: timedelta) -> None:
    contact.last_customer_message_at = timezone.now() - ago
    contact.save(update_fields=["last_customer_message_at"])


# --- Windows -----------------------------------------------------------------------------------


def test_reply_within_24_hours_is_sent_as_a_response(reply, graph, page):
    message = reply()

    assert message.delivery_status == Message.Delivery.SENT
    assert message.external_id == "m_standin_1"
    [request] = graph.requests
    assert (request.method, request.path) == SEND
    assert request.json == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {
            "text": "Your parcel left our warehouse this morning.",
            "metadata": f"helpdesk-message:{message.pk}",
        },
    }
    assert request.headers["Authorization"] == f"Bearer {page.access_token}"
    assert page.access_token not in str(request.query)  # the token never travels in the URL
    assert len(request.query["appsecret_proof"][0]) == 64


def test_reply_after_24_hours_uses_the_human_agent_tag_when_the_owner_enabled_it(reply, graph, page, contact):
    page.human_agent_enabled = True
    page.save()
    customer_wrote(contact, timedelta(days=3))

    message = reply()

    assert message.delivery_status == Message.Delivery.SENT
    assert graph.sent()[0]["messaging_type"] == "MESSAGE_TAG"
    assert graph.sent()[0]["tag"] == "HUMAN_AGENT"


def test_reply_after_24_hours_without_the_tag_is_refused_with_the_reason_and_not_stored(reply, graph, contact):
    customer_wrote(contact, timedelta(hours=25))

    with pytest.raises(ServiceError) as refused:
        reply()

    assert refused.value.field == "channel"
    assert "24 hours" in refused.value.message
    assert not Message.objects.filter(author=Message.Author.AGENT).exists()
    assert graph.requests == []


def test_reply_after_7_days_is_refused_even_with_the_tag(reply, graph, page, contact):
    page.human_agent_enabled = True
    page.save()
    customer_wrote(contact, timedelta(days=7, minutes=1))

    with pytest.raises(ServiceError) as refused:
        reply()

    assert "7 days" in refused.value.message
    assert graph.requests == []


def test_window_that_closes_before_the_send_fails_the_stored_reply_with_the_reason(
    conversation, agent, contact, graph, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = conversation_services.message_create(
            conversation=conversation, author="agent", agent=agent, body="Your parcel left."
        )
    customer_wrote(contact, timedelta(hours=25))  # the worker picks the reply up late

    for callback in callbacks:
        callback()

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.FAILED
    assert "24 hours" in message.delivery_error
    assert graph.requests == []


# --- Long texts --------------------------------------------------------------------------------


def test_reply_longer_than_2000_characters_goes_out_in_parts(reply, graph):
    paragraphs = [f"Paragraph {n}: " + "kávé " * 120 for n in range(8)]
    body = "\n".join(paragraphs)

    message = reply(body)

    texts = [sent["message"]["text"] for sent in graph.sent()]
    assert len(texts) == 3
    assert all(len(text) <= 2000 for text in texts)
    assert " ".join(" ".join(texts).split()) == " ".join(body.split())
    assert message.delivery_status == Message.Delivery.SENT
    assert message.external_id == "m_standin_1"
    assert SentPart.objects.filter(message=message).count() == 3


def test_split_text_cuts_a_text_without_spaces_at_the_limit():
    assert [len(part) for part in services.split_text("x" * 4500)] == [2000, 2000, 500]


# --- Facebook's errors -------------------------------------------------------------------------


def test_rate_limit_twice_then_success_is_retried_until_sent(reply, graph, retries_run_inline):
    graph.answer(*SEND, RATE_LIMITED, RATE_LIMITED)

    message = reply()

    assert message.delivery_status == Message.Delivery.SENT
    assert len(graph.requests) == 3


def test_temporary_server_error_is_retried(reply, graph, retries_run_inline):
    graph.answer(*SEND, TEMPORARY_ERROR)

    message = reply()

    assert message.delivery_status == Message.Delivery.SENT
    assert len(graph.requests) == 2


def test_rate_limit_that_does_not_pass_fails_after_the_last_try(reply, graph, settings, retries_run_inline):
    settings.FACEBOOK_SEND_MAX_RETRIES = 2
    graph.answer(*SEND, RATE_LIMITED, RATE_LIMITED, RATE_LIMITED, RATE_LIMITED)

    message = reply()

    assert message.delivery_status == Message.Delivery.FAILED
    assert "after 3 tries" in message.delivery_error
    assert len(graph.requests) == 3


def test_unreachable_facebook_is_retried_then_fails(reply, settings, retries_run_inline):
    settings.FACEBOOK_SEND_MAX_RETRIES = 1
    settings.FACEBOOK_GRAPH_URL = "http://127.0.0.1:9/v26.0"  # nothing listens on the discard port

    message = reply()

    assert message.delivery_status == Message.Delivery.FAILED
    assert "could not be reached" in message.delivery_error


def test_a_retry_does_not_send_the_parts_that_went_out_already(reply, graph, retries_run_inline):
    graph.answer(*SEND, (200, {"recipient_id": PSID, "message_id": "m_part_1"}), RATE_LIMITED)

    message = reply("a" * 1500 + " " + "b" * 1500)

    assert [sent["message"]["text"][0] for sent in graph.sent()] == ["a", "b", "b"]
    assert message.delivery_status == Message.Delivery.SENT
    assert message.external_id == "m_part_1"


def test_expired_token_disconnects_the_page_fails_the_reply_and_tells_the_owner(reply, graph, page, owner, mailoutbox):
    graph.answer(*SEND, TOKEN_EXPIRED)

    message = reply()

    assert message.delivery_status == Message.Delivery.FAILED
    assert "access token expired" in message.delivery_error
    assert len(graph.requests) == 1  # not retried
    page.refresh_from_db()
    assert not page.connected
    assert page.disconnected_reason == FacebookPage.Disconnection.TOKEN_EXPIRED
    [mail] = mailoutbox
    assert mail.to == [owner.email]
    assert page.name in mail.subject
    assert f"/admin/channels_fb/facebookpage/{page.pk}/change/" in mail.body


def test_after_the_token_expired_the_next_reply_is_refused_before_sending(reply, graph, owner, mailoutbox):
    graph.answer(*SEND, TOKEN_EXPIRED)
    first = reply()

    with pytest.raises(ServiceError) as refused:
        reply("Anyone there?")

    assert first.delivery_status == Message.Delivery.FAILED
    assert "access token" in refused.value.message
    assert len(graph.requests) == 1
    assert len(mailoutbox) == 1  # the owner is told once


def test_closed_window_reported_by_facebook_fails_the_reply_with_the_reason(reply, graph):
    graph.answer(*SEND, WINDOW_CLOSED)

    message = reply()

    assert message.delivery_status == Message.Delivery.FAILED
    assert "24 hours" in message.delivery_error
    assert len(graph.requests) == 1


def test_unavailable_person_fails_the_reply_with_the_reason(reply, graph):
    graph.answer(*SEND, USER_UNAVAILABLE)

    message = reply()

    assert message.delivery_status == Message.Delivery.FAILED
    assert "isn't available" in message.delivery_error
    assert len(graph.requests) == 1


# --- Safe to run twice ---------------------------------------------------------------------------


def test_running_the_send_task_again_sends_nothing_more(reply, graph):
    message = reply()

    send_message.delay(message.pk)

    assert len(graph.requests) == 1
    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT


def test_a_reply_in_a_conversation_without_a_messenger_contact_fails_with_the_reason(agent, graph, settings):
    conversation = ConversationFactory(channel=Channel.MESSENGER)
    message = Message.objects.create(
        conversation=conversation,
        author=Message.Author.AGENT,
        agent=agent,
        body="Hi",
        channel=Channel.MESSENGER,
        delivery_status=Message.Delivery.PENDING,
    )

    send_message.delay(message.pk)

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.FAILED
    assert "no Messenger contact" in message.delivery_error
    assert graph.requests == []


def test_too_many_requests_without_a_graph_error_body_is_retried(reply, graph, retries_run_inline):
    graph.answer(*SEND, (429, {}))

    assert reply().delivery_status == Message.Delivery.SENT
    assert len(graph.requests) == 2
