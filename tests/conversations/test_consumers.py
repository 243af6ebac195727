"""The websocket protocol, frame by frame, through the real ASGI application and channel layer."""

import asyncio
import json
import threading
import time

import pytest
import time_machine
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from conversations import services
from conversations.models import Conversation, Message
from helpdesk.models import Account, Agent
from visitors.models import PageView, Visitor
from visitors.services import identity_hash

from ..factories import AgentFactory, AgentGroupFactory, ConversationFactory

pytestmark = pytest.mark.django_db(transaction=True)

SITE = settings.SITE_URL
HOST = SITE.split("://")[1]
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def application():
    from helpdesk.asgi import application

    return application


def session_cookie(agent) -> bytes:
    from django.test import Client

    client = Client()
    client.force_login(agent)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def connect(path, *, origin=SITE, headers=(), client=("84.2.44.1", 50000), user=None):
    all_headers = [(b"host", HOST.encode()), (b"origin", origin.encode()), *headers]
    if user is not None:
        all_headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application(), path, headers=all_headers)
    communicator.scope["client"] = client
    connected, code = await communicator.connect()
    return communicator, connected, code


async def receive(communicator, timeout=2):
    return json.loads(await communicator.receive_from(timeout=timeout))


async def receive_type(communicator, frame_type, timeout=2):
    """The next frame of this type, skipping others (presence and typing frames arrive in between)."""
    while True:
        frame = await receive(communicator, timeout)
        if frame["type"] == frame_type:
            return frame


async def visitor_socket(token=None, *, last_message_id=None, page=None, **kwargs):
    communicator, connected, _ = await connect("/ws/visitor/", headers=[(b"user-agent", CHROME.encode())], **kwargs)
    assert connected
    hello = {"type": "visitor.hello", "token": token}
    if last_message_id is not None:
        hello["last_message_id"] = last_message_id
    if page:
        hello["page"] = page
    await communicator.send_json_to(hello)
    welcome = await receive_type(communicator, "visitor.welcome")
    return communicator, welcome


async def agent_socket(agent):
    communicator, connected, _ = await connect("/ws/agent/", user=agent)
    assert connected
    assert (await receive(communicator))["type"] == "agent.welcome"
    return communicator


async def send(communicator, frame, expect):
    await communicator.send_json_to(frame)
    return await receive_type(communicator, expect)


# --- Visitor: hello, identity, what we learn ---------------------------------------------------


async def test_first_hello_creates_a_visitor_and_learns_browser_location_and_page():
    visitor_ws, welcome = await visitor_socket(
        page={"url": "https://shop.example.com/p/1", "title": "Shoes", "referrer": "https://google.com/"}
    )

    visitor = await Visitor.objects.aget(key=welcome["token"])
    assert welcome["conversation"] is None and welcome["messages"] == []
    assert (visitor.browser, visitor.browser_version, visitor.os) == ("Chrome", "120.0.0", "Windows")
    assert (visitor.ip_address, visitor.country) == ("84.2.44.1", "HU")
    assert visitor.first_referrer == "https://google.com/"
    assert await PageView.objects.filter(visitor=visitor, url="https://shop.example.com/p/1").aexists()
    await visitor_ws.disconnect()


async def test_a_page_address_that_cannot_be_stored_does_not_keep_the_visitor_from_chatting():
    communicator, connected, _ = await connect("/ws/visitor/")
    assert connected
    long_url = "https://shop.example.com/?utm=" + "x" * 2100
    await communicator.send_json_to({"type": "visitor.hello", "token": None, "page": {"url": long_url}})

    welcome = await receive(communicator)
    refused = await receive(communicator)

    assert welcome["type"] == "visitor.welcome"
    assert (refused["type"], refused["field"], refused["ref"]) == ("error", "url", "page.view")
    await send(communicator, {"type": "message.send", "client_id": "c1", "body": "Hi"}, "message.ack")
    await communicator.disconnect()


async def test_the_same_token_in_another_tab_is_the_same_visitor_and_conversation():
    first_tab, welcome = await visitor_socket()
    await send(first_tab, {"type": "message.send", "client_id": "a1", "body": "Hello"}, "message.ack")

    second_tab, again = await visitor_socket(welcome["token"])

    assert again["token"] == welcome["token"]
    assert [message["body"] for message in again["messages"]] == ["Hello"]
    assert (await Conversation.objects.filter(visitor__key=welcome["token"]).acount()) == 1
    await first_tab.disconnect()
    await second_tab.disconnect()


async def test_a_message_reaches_every_tab_of_the_visitor_and_is_acknowledged_once():
    first_tab, welcome = await visitor_socket()
    second_tab, _ = await visitor_socket(welcome["token"])

    ack = await send(
        first_tab, {"type": "message.send", "client_id": "c-1", "body": "Do you ship to Hungary?"}, "message.ack"
    )
    seen = await receive_type(second_tab, "message.created")

    assert seen["message"]["id"] == ack["id"]
    assert seen["message"]["body"] == "Do you ship to Hungary?"
    await first_tab.disconnect()
    await second_tab.disconnect()


async def test_a_resent_client_id_is_acknowledged_with_the_same_message_and_stored_once():
    visitor_ws, _ = await visitor_socket()

    first = await send(visitor_ws, {"type": "message.send", "client_id": "same", "body": "Hi"}, "message.ack")
    again = await send(visitor_ws, {"type": "message.send", "client_id": "same", "body": "Hi"}, "message.ack")

    assert first["id"] == again["id"]
    assert await Message.objects.acount() == 1
    await visitor_ws.disconnect()


async def test_card_numbers_are_masked_before_anyone_sees_them(online_agent):
    visitor_ws, _ = await visitor_socket()
    agent_ws = await agent_socket(online_agent)

    await send(
        visitor_ws, {"type": "message.send", "client_id": "c", "body": "card 4111 1111 1111 1111"}, "message.ack"
    )
    echoed = await receive_type(visitor_ws, "message.created")
    to_agent = await receive_type(agent_ws, "message.created")

    assert echoed["message"]["body"] == to_agent["message"]["body"] == "card **** **** **** 1111"
    await visitor_ws.disconnect()
    await agent_ws.disconnect()


# --- Visitor and agent talk -----------------------------------------------------------------------


@pytest.fixture
def online_agent(db):
    return AgentFactory(role=Agent.Role.FULL, name="Anna", public_name="Anna from Support", online=True)


async def test_writing_and_typing_keep_the_visitor_from_going_idle_recorded_every_half_minute(monkeypatch):
    from conversations import consumers
    from visitors.presence import presence

    visitor_ws, welcome = await visitor_socket()
    visitor_id = (await Visitor.objects.aget(key=welcome["token"])).pk
    long_ago = time.time() - 3600

    def forget_activity():
        presence().touch(visitor_id, now=long_ago)

    async def write(text):
        await send(visitor_ws, {"type": "message.send", "client_id": text, "body": text}, "message.ack")

    forget_activity()
    await write("hello just said")  # arriving was recorded a moment ago
    assert presence().last_activity(visitor_id) == long_ago

    monkeypatch.setattr(consumers, "ACTIVITY_RECORD_SECONDS", 0)  # as if half a minute had passed
    await write("half a minute later")
    assert presence().last_activity(visitor_id) > long_ago

    forget_activity()
    await visitor_ws.send_json_to({"type": "typing.update", "typing": True})
    await send(visitor_ws, {"type": "ping"}, "pong")  # frames are handled in order: typing is done
    assert presence().last_activity(visitor_id) > long_ago
    await visitor_ws.disconnect()


async def test_visitor_and_agent_chat_with_typing_both_ways(online_agent):
    visitor_ws, _ = await visitor_socket()
    agent_ws = await agent_socket(online_agent)

    ack = await send(visitor_ws, {"type": "message.send", "client_id": "v1", "body": "Hello?"}, "message.ack")
    new = await receive_type(agent_ws, "message.created")
    conversation_id = new["conversation"]["id"]
    sync = await send(agent_ws, {"type": "conversation.watch", "conversation_id": conversation_id}, "conversation.sync")
    assert [m["id"] for m in sync["messages"]] == [ack["id"]]

    await visitor_ws.send_json_to({"type": "typing.update", "typing": True})
    assert (await receive_type(agent_ws, "typing"))["author"] == "visitor"

    await agent_ws.send_json_to({"type": "typing.update", "conversation_id": conversation_id, "typing": True})
    typing = await receive_type(visitor_ws, "typing")
    assert typing == {
        "type": "typing",
        "author": "agent",
        "typing": True,
        "agent": {"public_name": "Anna from Support"},
    }

    await send(
        agent_ws,
        {"type": "message.send", "conversation_id": conversation_id, "client_id": "a1", "body": "Yes, how can I help?"},
        "message.ack",
    )
    joined = await receive_type(visitor_ws, "conversation.joined")
    assert joined["conversation"]["assignee"]["public_name"] == "Anna from Support"
    reply = await receive_type(visitor_ws, "message.created")
    assert reply["message"]["body"] == "Yes, how can I help?"
    assert reply["message"]["agent"]["public_name"] == "Anna from Support"
    assert "@" not in json.dumps(reply)  # no agent email reaches the visitor
    assert "Anna" not in json.dumps(reply).replace("Anna from Support", "")  # nor the name colleagues use
    await visitor_ws.disconnect()
    await agent_ws.disconnect()


async def test_visitor_sees_resolution_rates_once_and_writing_again_reopens(online_agent):
    visitor_ws, _ = await visitor_socket()
    agent_ws = await agent_socket(online_agent)
    await send(visitor_ws, {"type": "message.send", "client_id": "v1", "body": "Thanks, bye"}, "message.ack")
    conversation_id = (await receive_type(agent_ws, "message.created"))["conversation"]["id"]

    await send(agent_ws, {"type": "conversation.resolve", "conversation_id": conversation_id}, "action.ok")
    assert (await receive_type(visitor_ws, "conversation.resolved"))["conversation"]["status"] == "resolved"

    assert (await send(visitor_ws, {"type": "conversation.rate", "rating": 5, "comment": "Great"}, "rating.ack"))[
        "rating"
    ] == 5
    twice = await send(visitor_ws, {"type": "conversation.rate", "rating": 1}, "error")
    assert twice["code"] == "conflict"

    await send(visitor_ws, {"type": "message.send", "client_id": "v2", "body": "One more thing"}, "message.ack")
    assert (await receive_type(visitor_ws, "conversation.reopened"))["conversation"]["status"] == "open"
    conversation = await Conversation.objects.aget(pk=conversation_id)
    assert conversation.status == "open"
    await visitor_ws.disconnect()
    await agent_ws.disconnect()


async def test_a_reconnecting_visitor_gets_exactly_what_they_missed(online_agent):
    visitor_ws, welcome = await visitor_socket()
    ack = await send(visitor_ws, {"type": "message.send", "client_id": "v1", "body": "First"}, "message.ack")
    await visitor_ws.disconnect()

    conversation = await Conversation.objects.aget(pk=ack["conversation_id"])
    for n in range(3):
        await sync_to_async(services.message_create)(
            conversation=conversation, author="agent", agent=online_agent, body=f"Reply {n}"
        )

    visitor_ws, again = await visitor_socket(welcome["token"], last_message_id=ack["id"])

    assert [m["body"] for m in again["messages"]] == ["Reply 0", "Reply 1", "Reply 2"]
    await visitor_ws.disconnect()


async def test_a_visitor_never_receives_another_visitors_conversation(online_agent):
    vera_ws, _ = await visitor_socket()
    victor_ws, _ = await visitor_socket()

    await send(vera_ws, {"type": "message.send", "client_id": "x", "body": "Vera's secret"}, "message.ack")

    assert await victor_ws.receive_nothing(timeout=0.3)
    await vera_ws.disconnect()
    await victor_ws.disconnect()


async def test_the_offline_form_opens_a_conversation_with_the_visitors_email():
    visitor_ws, welcome = await visitor_socket()
    assert welcome["agents_online"] is False

    missing = await send(visitor_ws, {"type": "offline.message", "name": "Vera", "message": "Call me"}, "error")
    assert missing["field"] == "email"
    invalid = await send(visitor_ws, {"type": "offline.message", "email": "nope", "message": "Call me"}, "error")
    assert invalid["field"] == "email"

    ack = await send(
        visitor_ws,
        {"type": "offline.message", "name": "Vera", "email": "vera@example.com", "message": "Call me"},
        "offline.ack",
    )

    conversation = await Conversation.objects.select_related("visitor").aget(pk=ack["conversation_id"])
    assert (conversation.visitor.name, conversation.visitor.email) == ("Vera", "vera@example.com")
    assert await conversation.messages.filter(body="Call me").aexists()
    await visitor_ws.disconnect()


async def test_identify_with_a_valid_hash_continues_the_customers_history():
    customer = await Visitor.objects.acreate(external_id="cust-42", name="Kata")
    await sync_to_async(ConversationFactory)(visitor=customer)
    visitor_ws, _ = await visitor_socket()
    secret_hash = await sync_to_async(identity_hash)("cust-42")

    welcome = await send(
        visitor_ws,
        {"type": "visitor.identify", "id": "cust-42", "hash": secret_hash, "email": "kata@example.com"},
        "visitor.welcome",
    )

    assert welcome["token"] == str(customer.key)
    assert welcome["conversation"] is not None
    await customer.arefresh_from_db()
    assert customer.email == "kata@example.com"
    await visitor_ws.disconnect()


async def test_identify_with_a_wrong_hash_is_refused_and_changes_nothing():
    customer = await Visitor.objects.acreate(external_id="cust-42", name="Kata")
    visitor_ws, welcome = await visitor_socket()

    refused = await send(visitor_ws, {"type": "visitor.identify", "id": "cust-42", "hash": "0" * 64}, "error")

    assert (refused["code"], refused["field"]) == ("forbidden", "hash")
    visitor = await Visitor.objects.aget(key=welcome["token"])
    assert visitor.pk != customer.pk and visitor.external_id is None
    await visitor_ws.disconnect()


async def test_website_sets_contact_details_variables_and_routing_group():
    group = await sync_to_async(AgentGroupFactory)(name="Sales")
    visitor_ws, welcome = await visitor_socket()

    await send(visitor_ws, {"type": "visitor.update", "name": "Vera", "phone": "+36 1 234 5678"}, "visitor.updated")
    await visitor_ws.send_json_to(
        {"type": "visitor.variables", "variables": {"plan": {"label": "Plan", "value": "Gold"}}}
    )
    await visitor_ws.send_json_to({"type": "visitor.group", "group": group.pk})
    ack = await send(visitor_ws, {"type": "message.send", "client_id": "1", "body": "Pricing?"}, "message.ack")

    visitor = await Visitor.objects.aget(key=welcome["token"])
    assert (visitor.name, visitor.phone) == ("Vera", "+36 1 234 5678")
    assert visitor.variables == {"plan": {"label": "Plan", "value": "Gold"}}
    assert (await Conversation.objects.aget(pk=ack["conversation_id"])).group_id == group.pk
    await visitor_ws.disconnect()


# --- Bad frames ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ("not json", None),
        ("[1, 2]", "type"),
        ('{"no": "type"}', "type"),
        ('{"type": "message.explode"}', "type"),
        ('{"type": "message.send", "body": "no client id"}', "client_id"),
        ('{"type": "message.send", "client_id": "1"}', "body"),
        ('{"type": "message.send", "client_id": "1", "body": "   "}', "body"),
        ('{"type": "message.send", "client_id": 7, "body": "Hi"}', "client_id"),
        ('{"type": "message.send", "client_id": "1", "body": "' + "x" * 20_001 + '"}', "body"),
        ('{"type": "typing.update", "typing": "yes"}', "typing"),
        ('{"type": "page.view", "url": "javascript:alert(1)"}', "url"),
        ('{"type": "conversation.rate", "rating": 9}', None),
        ('{"type": "visitor.group", "group": 999}', "group"),
        ('{"type": "visitor.variables", "variables": [1]}', "variables"),
        ('{"type": "visitor.update", "email": "nope"}', "email"),
        ('{"type": "visitor.hello"}', "type"),
    ],
)
async def test_a_bad_frame_gets_an_error_frame_and_the_connection_stays_usable(frame, field):
    visitor_ws, _ = await visitor_socket()

    await visitor_ws.send_to(text_data=frame)
    error = await receive_type(visitor_ws, "error")

    assert error["message"]
    if field:
        assert error["field"] == field
    assert (await send(visitor_ws, {"type": "ping"}, "pong"))["type"] == "pong"
    await visitor_ws.disconnect()


async def test_a_chat_box_open_longer_than_a_group_membership_lasts_still_hears_the_agent(online_agent):
    """The channel layer forgets a group membership after `group_expiry` (a day): a chat box left
    open that long renews its groups as it pings, every quarter of it."""
    expiry = get_channel_layer().group_expiry
    visitor_ws, _ = await visitor_socket()
    ack = await send(visitor_ws, {"type": "message.send", "client_id": "v1", "body": "Hello"}, "message.ack")
    conversation = await Conversation.objects.aget(pk=ack["conversation_id"])
    joined = time.time()

    with time_machine.travel(joined + expiry * 0.3, tick=False):
        await send(visitor_ws, {"type": "ping"}, "pong")
    with time_machine.travel(joined + expiry * 1.2, tick=False):
        await sync_to_async(services.message_create)(
            conversation=conversation, author="agent", agent=online_agent, body="Still there?"
        )
        reply = await receive_type(visitor_ws, "message.created")

    assert reply["message"]["body"] == "Still there?"
    await visitor_ws.disconnect()


async def test_frames_before_hello_are_refused():
    communicator, connected, _ = await connect("/ws/visitor/")
    assert connected

    error = await send(communicator, {"type": "message.send", "client_id": "1", "body": "Hi"}, "error")

    assert "hello" in error["message"]
    await communicator.disconnect()


async def test_binary_and_oversized_frames_are_refused():
    visitor_ws, _ = await visitor_socket()

    await visitor_ws.send_to(bytes_data=b"\x00\x01")
    assert "JSON text" in (await receive_type(visitor_ws, "error"))["message"]
    await visitor_ws.send_to(text_data="x" * 70_000)
    assert "larger" in (await receive_type(visitor_ws, "error"))["message"]
    await visitor_ws.disconnect()


async def test_a_visitor_sending_too_fast_is_slowed_down_not_cut_off(settings):
    settings.CHAT_RATE_BURST = 3
    settings.CHAT_RATE_PER_SECOND = 0.01
    visitor_ws, _ = await visitor_socket()

    for n in range(3):
        await send(visitor_ws, {"type": "message.send", "client_id": str(n), "body": "spam"}, "message.ack")
    limited = await send(visitor_ws, {"type": "message.send", "client_id": "4", "body": "spam"}, "error")

    assert "too fast" in limited["message"]
    assert limited["ref"] == "4"
    assert await Message.objects.acount() == 3
    assert (await send(visitor_ws, {"type": "ping"}, "pong"))["type"] == "pong"
    await visitor_ws.disconnect()


# --- Who may connect --------------------------------------------------------------------------


async def test_a_website_not_on_the_allowed_list_is_refused():
    _, connected, code = await connect("/ws/visitor/", origin="https://evil.example.net")

    assert not connected and code == 4003


async def test_an_allowed_website_may_open_the_chat_box_directly():
    account = await sync_to_async(Account.load)()
    account.allowed_origins = "https://shop.example.com\n"
    await account.asave()

    communicator, connected, _ = await connect("/ws/visitor/", origin="https://shop.example.com")

    assert connected
    await communicator.disconnect()


async def test_the_dashboard_socket_needs_a_signed_in_agent_and_our_own_origin(online_agent):
    _, anonymous_connected, code = await connect("/ws/agent/")
    assert not anonymous_connected and code == 4001

    _, foreign_connected, code = await connect("/ws/agent/", user=online_agent, origin="https://evil.example.net")
    assert not foreign_connected and code == 4003


async def test_a_dashboard_session_from_before_a_password_change_cannot_open_the_socket(online_agent):
    cookie = await sync_to_async(session_cookie)(online_agent)
    online_agent.set_password("a new one, after a leak")
    await online_agent.asave()

    communicator = WebsocketCommunicator(
        application(), "/ws/agent/", headers=[(b"host", HOST.encode()), (b"origin", SITE.encode()), (b"cookie", cookie)]
    )
    connected, code = await communicator.connect()

    assert not connected and code == 4001


async def test_a_limited_agent_cannot_open_another_groups_conversation():
    agent = await sync_to_async(AgentFactory)(role=Agent.Role.LIMITED)
    hidden = await sync_to_async(ConversationFactory)(group=await sync_to_async(AgentGroupFactory)(name="Support"))
    agent_ws = await agent_socket(agent)

    error = await send(agent_ws, {"type": "conversation.watch", "conversation_id": hidden.pk}, "error")

    assert error["code"] == "not_found"
    await agent_ws.disconnect()


async def test_a_limited_agent_is_refused_resolving_a_colleagues_conversation_with_the_reason():
    agent = await sync_to_async(AgentFactory)(role=Agent.Role.LIMITED)
    colleague = await sync_to_async(AgentFactory)(role=Agent.Role.LIMITED)
    conversation = await sync_to_async(ConversationFactory)(assignee=colleague)
    agent_ws = await agent_socket(agent)

    error = await send(agent_ws, {"type": "conversation.resolve", "conversation_id": conversation.pk}, "error")

    assert error["code"] == "forbidden"
    assert "assigned agent" in error["message"]
    await agent_ws.disconnect()


async def test_an_inactive_agent_reads_but_cannot_write():
    agent = await sync_to_async(AgentFactory)(role=Agent.Role.FULL, can_chat=False)
    conversation = await sync_to_async(ConversationFactory)()
    agent_ws = await agent_socket(agent)

    sync = await send(agent_ws, {"type": "conversation.watch", "conversation_id": conversation.pk}, "conversation.sync")
    error = await send(
        agent_ws, {"type": "message.send", "conversation_id": conversation.pk, "client_id": "1", "body": "Hi"}, "error"
    )

    assert sync["conversation"]["id"] == conversation.pk
    assert error["code"] == "forbidden"
    await agent_ws.disconnect()


async def test_agent_switches_status_and_heartbeats_keep_them_online(online_agent):
    agent_ws = await agent_socket(online_agent)

    await send(agent_ws, {"type": "status.set", "status": "offline"}, "status.ok")
    assert not (await Agent.objects.aget(pk=online_agent.pk)).is_online
    await send(agent_ws, {"type": "status.set", "status": "online"}, "status.ok")
    await send(agent_ws, {"type": "ping"}, "pong")

    assert (await Agent.objects.aget(pk=online_agent.pk)).is_online
    bad = await send(agent_ws, {"type": "status.set", "status": "away"}, "error")
    assert bad["field"] == "status"
    await agent_ws.disconnect()


async def test_a_full_access_agent_receives_each_event_of_their_own_conversation_once(online_agent):
    visitor_ws, _ = await visitor_socket()
    agent_ws = await agent_socket(online_agent)
    ack = await send(visitor_ws, {"type": "message.send", "client_id": "v1", "body": "Hi"}, "message.ack")
    await receive_type(agent_ws, "message.created")
    await send(agent_ws, {"type": "conversation.watch", "conversation_id": ack["conversation_id"]}, "conversation.sync")
    await send(agent_ws, {"type": "conversation.join", "conversation_id": ack["conversation_id"]}, "action.ok")

    await send(visitor_ws, {"type": "message.send", "client_id": "v2", "body": "Still there?"}, "message.ack")
    first = await receive_type(agent_ws, "message.created")

    assert first["message"]["body"] == "Still there?"
    assert await agent_ws.receive_nothing(timeout=0.3)
    await visitor_ws.disconnect()
    await agent_ws.disconnect()


async def test_chat_goes_on_while_the_process_shared_sync_thread_is_busy(online_agent):
    """Open sockets' frames and events do not queue behind the one thread Django's sync code shares
    in a process (under load, that queue held every socket of the process)."""
    visitor_ws, _ = await visitor_socket()
    agent_ws = await agent_socket(online_agent)
    release = threading.Event()
    busy = asyncio.ensure_future(sync_to_async(release.wait, thread_sensitive=True)(5))
    try:
        ack = await send(visitor_ws, {"type": "message.send", "client_id": "v1", "body": "Anyone?"}, "message.ack")
        new = await receive_type(agent_ws, "message.created")
        await send(agent_ws, {"type": "conversation.join", "conversation_id": ack["conversation_id"]}, "action.ok")
        await send(
            agent_ws,
            {"type": "message.send", "conversation_id": ack["conversation_id"], "client_id": "a1", "body": "Here"},
            "message.ack",
        )
        own = await receive_type(visitor_ws, "message.created")
        reply = await receive_type(visitor_ws, "message.created")
    finally:
        release.set()
        await busy
    assert new["message"]["body"] == own["message"]["body"] == "Anyone?"
    assert reply["message"]["body"] == "Here"
    await visitor_ws.disconnect()
    await agent_ws.disconnect()


@pytest.fixture
def replies_held(monkeypatch):
    """Replies whose body starts with "held" wait in the database work until the event is set."""
    release = threading.Event()
    create = services.agent_message_create

    def held(**kwargs):
        if kwargs["body"].startswith("held"):
            release.wait(5)
        return create(**kwargs)

    monkeypatch.setattr(services, "agent_message_create", held)
    yield release
    release.set()


def reply(conversation, client_id, body):
    return {"type": "message.send", "conversation_id": conversation.pk, "client_id": client_id, "body": body}


async def test_a_reply_waiting_for_the_database_holds_up_neither_other_conversations_nor_live_frames(
    online_agent, replies_held
):
    slow, other = await sync_to_async(ConversationFactory.create_batch)(2)
    agent_ws = await agent_socket(online_agent)
    visitor_ws, _ = await visitor_socket()

    await agent_ws.send_json_to(reply(slow, "a1", "held: let me check"))
    other_ack = await send(agent_ws, reply(other, "b1", "Here you are"), "message.ack")
    await send(visitor_ws, {"type": "message.send", "client_id": "v1", "body": "Anyone?"}, "message.ack")
    while (live := await receive_type(agent_ws, "message.created"))["message"]["body"] != "Anyone?":
        pass  # the dashboard's own reply to the other conversation comes first
    replies_held.set()
    slow_ack = await receive_type(agent_ws, "message.ack")

    assert other_ack["conversation_id"] == other.pk
    assert live["message"]["author"] == "visitor"
    assert (slow_ack["client_id"], slow_ack["conversation_id"]) == ("a1", slow.pk)
    await visitor_ws.disconnect()
    await agent_ws.disconnect()


async def test_replies_to_one_conversation_are_stored_in_the_order_sent(online_agent, replies_held):
    conversation = await sync_to_async(ConversationFactory)()
    agent_ws = await agent_socket(online_agent)

    await agent_ws.send_json_to(reply(conversation, "a1", "held: first"))
    await agent_ws.send_json_to(reply(conversation, "a2", "second"))
    nothing_yet = await agent_ws.receive_nothing(timeout=0.3)
    replies_held.set()
    acks = [await receive_type(agent_ws, "message.ack"), await receive_type(agent_ws, "message.ack")]

    assert nothing_yet
    assert [ack["client_id"] for ack in acks] == ["a1", "a2"]
    bodies = Message.objects.filter(conversation=conversation).order_by("id").values_list("body", flat=True)
    assert [body async for body in bodies] == ["held: first", "second"]
    await agent_ws.disconnect()


async def test_a_reply_sent_just_before_the_dashboard_closes_is_stored(online_agent, replies_held):
    conversation = await sync_to_async(ConversationFactory)()
    agent_ws = await agent_socket(online_agent)
    await agent_ws.send_json_to(reply(conversation, "a1", "held: bye"))
    await asyncio.sleep(0.1)
    threading.Timer(0.2, replies_held.set).start()

    await agent_ws.disconnect(timeout=3)

    assert await Message.objects.filter(conversation=conversation, body="held: bye").aexists()


async def test_a_dashboard_reads_no_more_frames_while_its_limit_of_frames_is_unfinished(
    online_agent, replies_held, monkeypatch
):
    from conversations import consumers

    monkeypatch.setattr(consumers, "DASHBOARD_FRAMES_AT_ONCE", 2)
    first, second = await sync_to_async(ConversationFactory.create_batch)(2)
    agent_ws = await agent_socket(online_agent)

    await agent_ws.send_json_to(reply(first, "a1", "held: one"))
    await agent_ws.send_json_to(reply(second, "b1", "held: two"))
    await agent_ws.send_json_to({"type": "ping"})
    unanswered = await agent_ws.receive_nothing(timeout=0.3)
    replies_held.set()

    assert unanswered
    assert await receive_type(agent_ws, "pong")
    await agent_ws.disconnect()


async def test_the_group_a_conversation_leaves_hears_of_the_transfer():
    sales = await sync_to_async(AgentGroupFactory)(name="Sales")
    support = await sync_to_async(AgentGroupFactory)(name="Support")
    seller = await sync_to_async(AgentFactory)(role=Agent.Role.LIMITED, groups=[sales])
    manager = await sync_to_async(AgentFactory)(role=Agent.Role.FULL)
    conversation = await sync_to_async(ConversationFactory)(group=sales)
    seller_ws = await agent_socket(seller)

    await sync_to_async(services.conversation_transfer)(conversation=conversation, actor=manager, group=support)

    transferred = await receive_type(seller_ws, "conversation.transferred")
    assert transferred["conversation"]["group_id"] == support.pk
    await seller_ws.disconnect()


async def test_the_welcome_tells_the_chat_box_whether_the_account_records_visits():
    account = await sync_to_async(Account.load)()
    account.recording_enabled = True
    await account.asave()
    recorded_ws, recorded = await visitor_socket()
    account.recording_enabled = False
    await account.asave()
    unrecorded_ws, unrecorded = await visitor_socket()

    assert (recorded["recording"], unrecorded["recording"]) == (True, False)
    await recorded_ws.disconnect()
    await unrecorded_ws.disconnect()


async def test_an_open_dashboard_follows_the_agents_rights_as_the_owner_changes_them():
    sales = await sync_to_async(AgentGroupFactory)(name="Sales")
    agent = await sync_to_async(AgentFactory)(role=Agent.Role.FULL)
    agent_ws = await agent_socket(agent)
    other_groups_conversation = await sync_to_async(ConversationFactory)(group=sales)

    # Demoted to limited access: after the next heartbeat, another group's events no longer arrive.
    await Agent.objects.filter(pk=agent.pk).aupdate(role=Agent.Role.LIMITED)
    await send(agent_ws, {"type": "ping"}, "pong")
    await sync_to_async(services.message_create)(
        conversation=other_groups_conversation, author="visitor", body="Only for Sales"
    )
    assert await agent_ws.receive_nothing(timeout=0.3)

    # Made inactive: the next reply is refused, without waiting for a heartbeat.
    mine = await sync_to_async(ConversationFactory)()
    await Agent.objects.filter(pk=agent.pk).aupdate(can_chat=False)
    refused = await send(
        agent_ws, {"type": "message.send", "conversation_id": mine.pk, "client_id": "1", "body": "Hi"}, "error"
    )
    assert refused["code"] == "forbidden"

    # Locked out: the next heartbeat closes the connection.
    await Agent.objects.filter(pk=agent.pk).aupdate(is_active=False)
    await agent_ws.send_json_to({"type": "ping"})
    closed = await agent_ws.receive_output(timeout=2)
    assert closed["type"] == "websocket.close" and closed["code"] == 4001
