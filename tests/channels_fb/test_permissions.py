"""Whether a reply can go out on Messenger: the rule the send task and the dashboard share."""

import pytest
import time_machine

from channels_fb import services
from channels_fb.permissions import HUMAN_AGENT, RESPONSE, send_policy, why_cannot_send
from conversations.models import Channel

from ..factories import ConversationFactory
from .factories import MessengerContactFactory

pytestmark = pytest.mark.django_db

CUSTOMER_WROTE = "2026-11-20T09:15:00Z"


@pytest.fixture
def contact(page):
    with time_machine.travel(CUSTOMER_WROTE, tick=False):
        return MessengerContactFactory(page=page)


@pytest.fixture
def conversation(contact):
    return ConversationFactory(channel=Channel.MESSENGER, visitor=contact.visitor)


@pytest.mark.parametrize(
    ("now", "human_agent_enabled", "expected"),
    [
        ("2026-11-21T09:15:00Z", False, RESPONSE),  # exactly 24 hours later
        ("2026-11-21T09:16:00Z", True, HUMAN_AGENT),
        ("2026-11-27T09:15:00Z", True, HUMAN_AGENT),  # exactly 7 days later
    ],
)
def test_reply_windows_run_from_the_customers_last_message(contact, now, human_agent_enabled, expected):
    contact.page.human_agent_enabled = human_agent_enabled
    contact.page.save()

    with time_machine.travel(now, tick=False):
        assert send_policy(contact) == expected


def test_no_reply_after_24_hours_without_the_human_agent_tag(conversation):
    with time_machine.travel("2026-11-21T09:16:00Z", tick=False):
        reason = why_cannot_send(conversation)

    assert "24 hours" in reason
    assert "human agent" in reason


def test_no_reply_after_7_days_even_with_the_tag(conversation, page):
    page.human_agent_enabled = True
    page.save()

    with time_machine.travel("2026-11-27T09:16:00Z", tick=False):
        assert "7 days" in why_cannot_send(conversation)


def test_reply_is_allowed_in_the_window(conversation):
    with time_machine.travel("2026-11-20T10:00:00Z", tick=False):
        assert why_cannot_send(conversation) is None


def test_no_reply_on_a_disconnected_page(conversation, page, owner):
    services.facebook_page_disconnect(page=page, actor=owner)

    with time_machine.travel("2026-11-20T10:00:00Z", tick=False):
        assert "disconnected" in why_cannot_send(conversation)


def test_no_reply_before_the_customer_ever_wrote(conversation, contact):
    contact.last_customer_message_at = None
    contact.save()

    assert "after the customer has written" in why_cannot_send(conversation)


def test_conversations_of_other_channels_are_not_this_rules_business(db):
    assert why_cannot_send(ConversationFactory(channel=Channel.WEB)) is None
