"""The reply-check registry: a channel says why a reply cannot go out on it, `message_create` enforces
it and the composer shows it, without `conversations` knowing the channel apps."""

import pytest

from conversations import events, services
from conversations.models import Channel, Message
from helpdesk.errors import ServiceError

from ..factories import ConversationFactory

pytestmark = pytest.mark.django_db

CLOSED = "The pigeon has flown: no reply until the customer writes again."


@pytest.fixture
def pigeon_channel(monkeypatch):
    """Messenger's slot with a stand-in deliverer and a check that refuses for visitors named Closed."""
    delivered = []
    monkeypatch.setitem(events._deliverers, Channel.MESSENGER, delivered.append)
    monkeypatch.setitem(
        events._reply_checks,
        Channel.MESSENGER,
        lambda conversation: CLOSED if conversation.visitor.name == "Closed" else None,
    )
    return delivered


def test_a_channel_without_a_check_refuses_nothing(monkeypatch):
    monkeypatch.delitem(events._reply_checks, Channel.MESSENGER, raising=False)

    assert events.reply_refusal(ConversationFactory(channel=Channel.MESSENGER), Channel.MESSENGER) is None


def test_registered_check_gives_its_reason(pigeon_channel):
    conversation = ConversationFactory(channel=Channel.MESSENGER, visitor__name="Closed")

    assert events.reply_refusal(conversation, Channel.MESSENGER) == CLOSED
    assert events.reply_refusal(conversation, Channel.EMAIL) != CLOSED


def test_reply_refused_by_its_channel_is_not_stored_and_names_the_channel(pigeon_channel, agent):
    conversation = ConversationFactory(channel=Channel.MESSENGER, visitor__name="Closed")

    with pytest.raises(ServiceError) as refused:
        services.message_create(conversation=conversation, author="agent", agent=agent, body="Hello?")

    assert refused.value.message == CLOSED
    assert refused.value.field == "channel"
    assert refused.value.code == "conflict"
    assert not Message.objects.exists()
    assert pigeon_channel == []


def test_reply_the_channel_allows_is_stored_and_handed_over(pigeon_channel, agent, django_capture_on_commit_callbacks):
    conversation = ConversationFactory(channel=Channel.MESSENGER, visitor__name="Open")

    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_create(conversation=conversation, author="agent", agent=agent, body="Hello!")

    assert pigeon_channel == [message.pk]


def test_customer_messages_are_never_refused_by_the_reply_check(pigeon_channel):
    conversation = ConversationFactory(channel=Channel.MESSENGER, visitor__name="Closed")

    message = services.message_create(conversation=conversation, author="visitor", body="Me again", external_id="m_1")

    assert message.author == Message.Author.VISITOR


def test_website_replies_are_not_checked(monkeypatch, agent):
    monkeypatch.setitem(events._reply_checks, Channel.WEB, lambda conversation: CLOSED)

    message = services.message_create(conversation=ConversationFactory(), author="agent", agent=agent, body="Hi")

    assert message.channel == Channel.WEB
