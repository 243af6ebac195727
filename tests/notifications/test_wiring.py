"""The wiring, once: the chat box's frames reach notifications through the event hub."""

import pytest
from asgiref.sync import sync_to_async

from ..conversations.test_consumers import receive_type, visitor_socket
from ..factories import AgentFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_waiting(settings):
    settings.NOTIFICATION_OFFLINE_DELAY = 0
    settings.VISITOR_LEFT_GRACE = 0


async def test_the_offline_contact_form_emails_the_offline_agents(mailoutbox):
    agent = await sync_to_async(AgentFactory)()
    visitor_ws, _ = await visitor_socket()

    await visitor_ws.send_json_to(
        {"type": "offline.message", "name": "Vera", "email": "vera@example.com", "message": "Call me, please"}
    )
    await receive_type(visitor_ws, "offline.ack")
    await visitor_ws.disconnect()

    assert [mail.to for mail in mailoutbox] == [[agent.email]]
    assert "Call me, please" in mailoutbox[0].body
    assert "vera@example.com" in mailoutbox[0].body


async def test_a_chat_the_visitor_leaves_unanswered_is_missed_by_the_online_agent(mailoutbox):
    agent = await sync_to_async(AgentFactory)(online=True)
    visitor_ws, _ = await visitor_socket()

    await visitor_ws.send_json_to({"type": "message.send", "client_id": "m1", "body": "Is this in stock?"})
    await receive_type(visitor_ws, "message.ack")
    assert mailoutbox == []
    await visitor_ws.disconnect()  # the last chat box closes; with no grace the departure is settled at once

    assert [mail.to for mail in mailoutbox] == [[agent.email]]
    assert mailoutbox[0].subject.startswith("Missed conversation")
