"""Messenger in the dashboard: the composer says why a reply cannot go out before the agent writes,
a failed reply shows its reason, and every row and message carries the Messenger mark."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Channel, Message

from ..factories import ConversationFactory, MessageFactory
from .factories import MessengerContactFactory

pytestmark = pytest.mark.django_db

MESSENGER_MARK = 'class="channel-mark channel-messenger"'


@pytest.fixture
def signed_in(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def messenger_conversation(page):
    contact = MessengerContactFactory(page=page)
    return ConversationFactory(channel=Channel.MESSENGER, visitor=contact.visitor)


def test_composer_of_a_closed_messenger_window_is_disabled_with_the_reason(signed_in, messenger_conversation):
    contact = messenger_conversation.visitor.messenger_contact
    contact.last_customer_message_at = timezone.now() - timedelta(hours=25)
    contact.save()

    opened = signed_in.get(f"/conversations/{messenger_conversation.pk}/").content.decode()

    composer = opened[opened.index('id="composer"') :]
    assert '<textarea id="composer-body" name="body" rows="3"' in composer
    assert 'disabled title="More than 24 hours have passed' in composer
    assert 'data-why="send">More than 24 hours have passed' in composer


def test_composer_of_an_open_messenger_window_is_enabled(signed_in, messenger_conversation):
    opened = signed_in.get(f"/conversations/{messenger_conversation.pk}/").content.decode()

    composer = opened[opened.index('id="composer"') :]
    assert 'data-why="send"' not in composer
    assert "disabled" not in composer[: composer.index("</textarea>")]


def test_failed_reply_shows_its_reason_in_the_thread_and_alone(signed_in, agent, messenger_conversation):
    failed = MessageFactory(
        conversation=messenger_conversation,
        author=Message.Author.AGENT,
        agent=agent,
        channel=Channel.MESSENGER,
        delivery_status=Message.Delivery.FAILED,
        delivery_error="This person isn't available right now.",
    )

    opened = signed_in.get(f"/conversations/{messenger_conversation.pk}/").content.decode()
    alone = signed_in.get(f"/conversations/{messenger_conversation.pk}/messages/{failed.pk}/").content.decode()

    for html in (opened, alone):
        assert 'data-delivery="failed"' in html
        assert '<span class="delivery-error">This person isn&#x27;t available right now.</span>' in html
        assert MESSENGER_MARK in html


def test_message_of_another_conversation_is_not_found(signed_in, agent, messenger_conversation):
    other = MessageFactory(channel=Channel.MESSENGER)

    response = signed_in.get(f"/conversations/{messenger_conversation.pk}/messages/{other.pk}/")

    assert response.status_code == 404


def test_every_messenger_row_and_message_carries_the_messenger_mark(signed_in, messenger_conversation):
    MessageFactory(conversation=messenger_conversation, channel=Channel.MESSENGER, body="First")
    MessageFactory(conversation=messenger_conversation, channel=Channel.MESSENGER, body="Second")
    second = ConversationFactory(channel=Channel.MESSENGER)
    MessageFactory(conversation=second, channel=Channel.MESSENGER)

    inbox = signed_in.get("/").content.decode()
    opened = signed_in.get(f"/conversations/{messenger_conversation.pk}/").content.decode()

    rows = inbox.split('<li class="row')[1:]
    assert len(rows) == 2 and all(MESSENGER_MARK in row for row in rows)
    messages = opened.split('<li class="message')[1:]
    assert len(messages) == 2 and all(MESSENGER_MARK in message for message in messages)
