"""Two real uvicorn server processes sharing PostgreSQL and Redis, as in production: visitors on one,
agents on the other, real TCP websockets, load, a reconnect, and a process that dies."""

import asyncio
import json
import signal
import time

import pytest
from django.db import connection
from django.test import Client
from websockets.asyncio.client import connect

from conversations.models import Message
from helpdesk import events as hub
from helpdesk.models import Agent

from ..factories import AgentFactory
from ..live_servers import Server

PRESENCE_TTL = 3

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def servers(redis_url):
    if connection.vendor != "postgresql":
        pytest.skip("several server processes need a shared database server: runs with DATABASE_URL (PostgreSQL)")
    env = {"VISITOR_PRESENCE_TTL": str(PRESENCE_TTL)}
    started = [Server(redis_url, env), Server(redis_url, env)]
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def agent(db):
    return AgentFactory(role=Agent.Role.FULL, public_name="Anna", online=True)


def cookie_for(agent) -> str:
    client = Client()
    client.force_login(agent)
    return f"sessionid={client.cookies['sessionid'].value}"


async def frames_until(ws, predicate, timeout=15):
    """Read frames until `predicate(frame)` is true; return every frame read."""
    read = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            read.append(frame)
            if predicate(frame):
                return read


async def visitor(server, token=None, last_message_id=None):
    ws = await connect(server.url("/ws/visitor/"), origin=server.origin, open_timeout=10)
    await ws.send(json.dumps({"type": "visitor.hello", "token": token, "last_message_id": last_message_id}))
    welcome = (await frames_until(ws, lambda f: f["type"] == "visitor.welcome"))[-1]
    return ws, welcome


async def dashboard(server, agent_cookie):
    ws = await connect(
        server.url("/ws/agent/"), origin=server.origin, additional_headers={"Cookie": agent_cookie}, open_timeout=10
    )
    await frames_until(ws, lambda f: f["type"] == "agent.welcome")
    return ws


def test_a_visitor_on_one_process_and_an_agent_on_another_talk_live(servers, agent):
    cookie = cookie_for(agent)

    async def story():
        visitor_ws, _ = await visitor(servers[0])
        agent_ws = await dashboard(servers[1], cookie)

        await visitor_ws.send(json.dumps({"type": "message.send", "client_id": "v1", "body": "Hello from process A"}))
        created = (await frames_until(agent_ws, lambda f: f["type"] == "message.created"))[-1]
        conversation_id = created["conversation"]["id"]
        await agent_ws.send(json.dumps({"type": "conversation.watch", "conversation_id": conversation_id}))
        sync = (await frames_until(agent_ws, lambda f: f["type"] == "conversation.sync"))[-1]

        await visitor_ws.send(json.dumps({"type": "typing.update", "typing": True}))
        await frames_until(agent_ws, lambda f: f["type"] == "typing" and f["author"] == "visitor")
        await agent_ws.send(json.dumps({"type": "typing.update", "conversation_id": conversation_id, "typing": True}))
        await agent_ws.send(
            json.dumps(
                {
                    "type": "message.send",
                    "conversation_id": conversation_id,
                    "client_id": "a1",
                    "body": "Hello from process B",
                }
            )
        )
        seen = await frames_until(
            visitor_ws, lambda f: f["type"] == "message.created" and f["message"]["author"] == "agent"
        )

        await visitor_ws.close()
        await agent_ws.close()
        return created, sync, seen

    created, sync, seen = asyncio.run(story())

    assert created["message"]["body"] == "Hello from process A"
    assert sync["visitor_state"] == "online"  # presence written by process A, read by process B
    assert any(frame["type"] == "typing" and frame["author"] == "agent" for frame in seen)
    assert seen[-1]["message"]["body"] == "Hello from process B"


def test_two_hundred_visitor_sockets_sending_at_once_lose_and_double_nothing(servers, agent):
    cookie = cookie_for(agent)
    count = 200

    async def load():
        agent_ws = await dashboard(servers[1], cookie)
        sockets = await asyncio.gather(*(visitor(servers[n % 2]) for n in range(count)))

        async def send(n, ws):
            await ws.send(json.dumps({"type": "message.send", "client_id": f"load-{n}", "body": f"message {n}"}))
            return (await frames_until(ws, lambda f: f["type"] == "message.ack"))[-1]

        acks = await asyncio.gather(*(send(n, ws) for n, (ws, _) in enumerate(sockets)))
        received = set()
        async with asyncio.timeout(60):
            while len(received) < count:
                frame = json.loads(await agent_ws.recv())
                if frame["type"] == "message.created":
                    assert frame["message"]["id"] not in received, "a message reached the agent twice"
                    received.add(frame["message"]["id"])
        for ws, _ in sockets:
            await ws.close()
        await agent_ws.close()
        return acks, received

    acks, received = asyncio.run(load())

    assert len({ack["id"] for ack in acks}) == count
    assert received == {ack["id"] for ack in acks}
    assert Message.objects.count() == count


def test_a_socket_dropped_mid_conversation_misses_nothing_and_doubles_nothing(servers, agent):
    cookie = cookie_for(agent)
    replies = 30

    async def conversation():
        visitor_ws, welcome = await visitor(servers[0])
        agent_ws = await dashboard(servers[1], cookie)
        await visitor_ws.send(json.dumps({"type": "message.send", "client_id": "v1", "body": "Tell me everything"}))
        conversation_id = (await frames_until(agent_ws, lambda f: f["type"] == "message.created"))[-1]["conversation"][
            "id"
        ]

        async def agent_talks():
            for n in range(replies):
                await agent_ws.send(
                    json.dumps(
                        {
                            "type": "message.send",
                            "conversation_id": conversation_id,
                            "client_id": f"a{n}",
                            "body": f"part {n}",
                        }
                    )
                )
                await asyncio.sleep(0.01)

        talking = asyncio.create_task(agent_talks())
        seen = []
        last_id = None
        while len(seen) < 10:  # read a third of it, then the connection drops
            frame = json.loads(await visitor_ws.recv())
            if frame["type"] == "message.created" and frame["message"]["author"] == "agent":
                seen.append(frame["message"]["id"])
                last_id = frame["message"]["id"]
        await visitor_ws.close()
        await asyncio.sleep(0.2)  # messages keep coming while the visitor is away

        visitor_ws, again = await visitor(servers[1], welcome["token"], last_message_id=last_id)
        seen += [message["id"] for message in again["messages"] if message["author"] == "agent"]
        await talking
        while len(set(seen)) < replies:
            frame = json.loads(await asyncio.wait_for(visitor_ws.recv(), 15))
            if (
                frame["type"] == "message.created"
                and frame["message"]["author"] == "agent"
                and frame["message"]["id"] not in seen
            ):
                seen.append(frame["message"]["id"])
        await visitor_ws.close()
        await agent_ws.close()
        return seen

    seen = asyncio.run(conversation())

    stored = list(Message.objects.filter(author="agent").order_by("id").values_list("id", flat=True))
    assert len(stored) == replies
    assert sorted(seen) == stored  # nothing missed
    assert len(seen) == len(set(seen))  # nothing doubled


def test_visitors_of_a_server_that_died_are_gone_once_their_heartbeat_expires(servers, settings):
    settings.VISITOR_PRESENCE_TTL = PRESENCE_TTL
    settings.VISITOR_LEFT_GRACE = 1
    announced = []
    hub.subscribe(announced.append)

    async def open_and_die():
        _ws, welcome = await visitor(servers[0])
        servers[0].stop(signal.SIGKILL)  # no disconnect handler runs, nobody cleans up
        return welcome["token"]

    try:
        token = asyncio.run(open_and_die())
        from visitors.models import Visitor
        from visitors.presence import visitor_state
        from visitors.tasks import settle_departures

        visitor_id = Visitor.objects.get(key=token).pk
        assert visitor_state(visitor_id) != "left"
        time.sleep(PRESENCE_TTL + 1.2)
        settle_departures()
    finally:
        hub.unsubscribe(announced.append)

    assert visitor_state(visitor_id) == "left"
    assert [event["type"] for event in announced] == ["visitor.left"]
