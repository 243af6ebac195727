#!/usr/bin/env python
"""Chat load benchmark: the helpdesk in production mode, side by side with a bare Channels baseline.

    python bench/chat_load.py            # the full run (a few minutes)
    python bench/chat_load.py --quick    # small sizes: a correctness check for CI, no timing verdicts

It starts, on this machine: a fresh PostgreSQL database, a Redis database, two helpdesk uvicorn
processes in production mode (DEBUG off) and two uvicorn processes serving `bench/baseline.py` on the
same channel layer. Simulated visitors speak the chat box protocol to one process and authenticated
agents the dashboard protocol to the other, so every message crosses processes through Redis and is
really stored. Everything talks to 127.0.0.1 only, and every load loop is bounded in count and time.

It reports visitor→agent and agent→visitor latency (p50/p95/p99) at each load step, the highest rate
sustained (nothing lost, refused or doubled, and a p99 within a second: deliveries keep up), lost and
doubled messages (counted at the receivers), messages the server refused with an error frame, memory
per idle visitor socket and the CPU of keeping idle sockets (each pings as the chat box does, every
20 s), the chat box's gzipped size on the visitor's page, server CPU per message (helpdesk and
baseline), the cores each part kept busy at each step (each server process, PostgreSQL, Redis, the
load generator and the whole machine), the helpdesk's sustained rate as a share of the baseline's, and
a reconnect storm (half the visitors dropped and reconnected mid-load, at a rate the helpdesk
sustains). Results go to bench/results/chat_load.json; `python bench/report.py` puts them in the
README.
"""

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import RESULTS, Server, fresh_database, percentiles, production_environment, setup_django

DATABASE = os.environ.get("BENCH_DATABASE", "helpdesk_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")

# Half of a step's messages come from visitors, spread over all of them: with these many visitors each
# writes at most half as often as the chat box's default rate limit lets one (CHAT_RATE_PER_SECOND, 1/s),
# so the load measures throughput, not the limit. A message refused all the same is counted as refused.
QUICK = {
    "visitors": 50,
    "agents": 3,
    "steps": [25, 50],
    "step_seconds": 3,
    "idle_sockets": 200,
    "heartbeat_seconds": 5,
    "storm_rate": 25,
}
FULL = {
    "visitors": 1200,
    "agents": 5,
    "steps": [25, 50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 800, 900, 1000, 1200],
    "step_seconds": 10,
    "idle_sockets": 10_000,
    "heartbeat_seconds": 40,
    "storm_rate": 250,
}
DRAIN_SECONDS = 10
# The chat box and the dashboard each ping every 20 s while open (`conversations/static/widget/frame.js`,
# `helpdesk/static/helpdesk/socket.js`).
PING_SECONDS = 20
PING = json.dumps({"type": "ping"})


def environment() -> dict:
    return production_environment(database=DATABASE, redis_url=REDIS_URL)


def fresh_services():
    import redis

    fresh_database(DATABASE)
    redis.Redis.from_url(REDIS_URL).flushdb()


def agent_cookies(count: int) -> list[str]:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from helpdesk.models import Agent

    cookies = []
    for n in range(count):
        agent = Agent.objects.create_user(
            f"bench{n}@example.com", "x", name=f"Bench agent {n}", role=Agent.Role.FULL, status=Agent.Status.ONLINE
        )
        session = SessionStore()
        session[SESSION_KEY] = str(agent.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = agent.get_session_auth_hash()
        session.save()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
    return cookies


# --- Clients -------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What was sent and what arrived, per direction, to count losses, doubles and latency."""

    sent_at: dict = field(default_factory=dict)  # tag -> perf_counter at send
    arrived: dict = field(default_factory=dict)  # (receiver, tag) -> count
    latencies: list = field(default_factory=list)
    expected_receivers: dict = field(default_factory=dict)  # tag -> set of receivers
    refused: dict = field(default_factory=dict)  # tag -> the error code the server answered it with

    def sent(self, tag: str, receivers: set):
        self.sent_at[tag] = time.perf_counter()
        self.expected_receivers[tag] = receivers

    def withdraw(self, tag: str):
        """The socket closed before the message went out: nobody can expect it."""
        self.sent_at.pop(tag, None)
        self.expected_receivers.pop(tag, None)

    def refuse(self, tag: str, code: str):
        """The server answered the message with an error frame (a rate limit, say): it was not stored,
        so nobody can expect it, and it is counted apart from the lost."""
        if tag in self.sent_at:
            self.withdraw(tag)
            self.refused[tag] = code

    def got(self, receiver, tag: str):
        key = (receiver, tag)
        self.arrived[key] = self.arrived.get(key, 0) + 1
        if self.arrived[key] == 1 and tag in self.sent_at:
            self.latencies.append(time.perf_counter() - self.sent_at[tag])

    def missing(self) -> int:
        return len(self.missing_pairs())

    def missing_pairs(self) -> list[str]:
        """`receiver:tag` of each message that did not arrive, to look it up in the database."""
        return [
            f"{r}:{tag}"
            for tag, receivers in self.expected_receivers.items()
            for r in receivers
            if (r, tag) not in self.arrived
        ]

    def doubled(self) -> int:
        return sum(count - 1 for count in self.arrived.values() if count > 1)


class Client:
    def __init__(self, name, url, origin, headers=None):
        self.name, self.url, self.origin, self.headers = name, url, origin, headers or {}
        self.ws = None
        self.reader = None
        self.waiters: dict[str, asyncio.Future] = {}

    async def open(self):
        self.ws = await connect(
            self.url,
            origin=self.origin,
            additional_headers=self.headers,
            open_timeout=30,
            max_queue=None,
            ping_interval=None,
        )
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for raw in self.ws:
                self.handle(json.loads(raw))
        except Exception:
            pass

    def wait_for(self, key: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiters[key] = future
        return future

    def resolve(self, key: str, value):
        if (future := self.waiters.pop(key, None)) and not future.done():
            future.set_result(value)

    async def send(self, frame: dict, ledger: Ledger | None = None):
        try:
            await self.ws.send(json.dumps(frame))
        except Exception:
            if ledger is not None:
                ledger.withdraw(frame.get("client_id"))
            raise

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
        if self.reader:
            await asyncio.wait([self.reader], timeout=5)

    def handle(self, frame):
        raise NotImplementedError


def tag_of(body: str) -> str | None:
    return body.split(" ", 2)[1] if body.startswith("bench ") else None


class HelpdeskVisitor(Client):
    def __init__(self, number, server, to_agents: Ledger, to_visitors: Ledger):
        super().__init__(f"v{number}", server.ws("/ws/visitor/"), server.origin)
        self.number, self.to_agents, self.to_visitors = number, to_agents, to_visitors
        self.token = None
        self.conversation_id = None
        self.last_id = None
        self.seen_ids: dict[int, int] = {}
        self.pings: deque[float] = deque()  # perf_counter of each ping still waiting for its pong
        self.pong_latencies: list[float] | None = None  # where answered pings go, while heartbeats run

    async def hello(self):
        welcome = self.wait_for("welcome")
        await self.send({"type": "visitor.hello", "token": self.token, "last_message_id": self.last_id})
        frame = await asyncio.wait_for(welcome, 30)
        self.token = frame["token"]
        for message in frame["messages"]:
            self._message(message)

    def _message(self, message):
        self.seen_ids[message["id"]] = self.seen_ids.get(message["id"], 0) + 1
        self.last_id = max(self.last_id or 0, message["id"])
        if message["author"] == "agent" and (tag := tag_of(message["body"])):
            self.to_visitors.got(self.name, tag)

    def handle(self, frame):
        kind = frame["type"]
        if kind == "visitor.welcome":
            self.resolve("welcome", frame)
        elif kind == "message.created":
            self._message(frame["message"])
        elif kind == "message.ack":
            self.conversation_id = frame["conversation_id"]
            self.resolve(frame["client_id"], frame)
        elif kind == "pong":
            if self.pings and self.pong_latencies is not None:
                self.pong_latencies.append(time.perf_counter() - self.pings.popleft())
        elif kind == "error":
            self.to_agents.refuse(frame.get("ref"), frame.get("code"))
            self.resolve(frame.get("ref") or "error", frame)

    async def ping(self):
        self.pings.append(time.perf_counter())
        await self.send({"type": "ping"})

    async def say(self, tag: str, receivers: set, wait=False):
        self.to_agents.sent(tag, receivers)
        ack = self.wait_for(tag) if wait else None
        await self.send(
            {"type": "message.send", "client_id": tag, "body": f"bench {tag} from {self.name}"}, self.to_agents
        )
        if ack:
            await asyncio.wait_for(ack, 30)


class HelpdeskAgent(Client):
    def __init__(self, number, server, cookie, to_agents: Ledger, to_visitors: Ledger):
        super().__init__(f"a{number}", server.ws("/ws/agent/"), server.origin, {"Cookie": cookie})
        self.to_agents, self.to_visitors = to_agents, to_visitors
        self.sent_ids: dict[int, list[int]] = {}

    async def open(self):
        welcome = self.wait_for("welcome")
        await super().open()
        await asyncio.wait_for(welcome, 30)

    def handle(self, frame):
        kind = frame["type"]
        if kind == "agent.welcome":
            self.resolve("welcome", frame)
        elif kind == "message.created" and frame["message"]["author"] == "visitor":
            if tag := tag_of(frame["message"]["body"]):
                self.to_agents.got(self.name, tag)
        elif kind == "message.ack":
            self.sent_ids.setdefault(frame["conversation_id"], []).append(frame["id"])
            self.resolve(frame["client_id"], frame)
        elif kind == "error":
            self.to_visitors.refuse(frame.get("ref"), frame.get("code"))
            self.resolve(frame.get("ref") or "error", frame)

    async def reply(self, conversation_id: int, tag: str, receiver: str, wait=False):
        self.to_visitors.sent(tag, {receiver})
        ack = self.wait_for(tag) if wait else None
        await self.send(
            {
                "type": "message.send",
                "conversation_id": conversation_id,
                "client_id": tag,
                "body": f"bench {tag} to {receiver}",
            },
            self.to_visitors,
        )
        if ack:
            await asyncio.wait_for(ack, 30)


class BaselineVisitor(Client):
    def __init__(self, number, server, to_agents, to_visitors):
        super().__init__(f"v{number}", server.ws(f"/visitor/{number}/"), server.origin)
        self.number, self.to_agents, self.to_visitors = number, to_agents, to_visitors

    def handle(self, frame):
        if frame["type"] == "message.created" and (tag := tag_of(frame["body"])) and tag.startswith("r"):
            self.to_visitors.got(self.name, tag)
        elif frame["type"] == "message.ack":
            self.resolve(frame["client_id"], frame)

    async def say(self, tag, receivers, wait=False):
        self.to_agents.sent(tag, receivers)
        await self.send({"client_id": tag, "body": f"bench {tag}"})


class BaselineAgent(Client):
    def __init__(self, number, server, to_agents, to_visitors):
        super().__init__(f"a{number}", server.ws("/agent/"), server.origin)
        self.to_agents, self.to_visitors = to_agents, to_visitors

    def handle(self, frame):
        if frame["type"] == "message.created" and (tag := tag_of(frame["body"])) and tag.startswith("s"):
            self.to_agents.got(self.name, tag)

    async def reply(self, room: int, tag: str, receiver: str, wait=False):
        self.to_visitors.sent(tag, {receiver})
        await self.send({"client_id": tag, "body": f"bench {tag}", "room": room})


# --- Load ----------------------------------------------------------------------------------------


async def drain(ledgers: list[Ledger], seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(ledger.missing() for ledger in ledgers):
        await asyncio.sleep(0.1)


async def paced(total: int, gap: float):
    """0 .. total-1, the n-th yielded `n * gap` seconds after the first (later if the loop falls behind)."""
    started = time.perf_counter()
    for n in range(total):
        if (delay := started + n * gap - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        yield n


@contextlib.contextmanager
def collections_paused():
    """The load generator's own garbage collections stopped its event loop mid-step, and their pauses
    showed as tens of milliseconds at the 99th percentile of whichever step they fell in, helpdesk or
    baseline: they run between steps instead."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def keep_pinging(client: Client):
    """As the dashboard and the chat box do while open, a ping every PING_SECONDS (from a moment of
    its own, so the clients' pings spread). Without them an agent counts as offline once
    AGENT_PRESENCE_TTL has passed, and every visitor message becomes an offline message to notify."""
    await asyncio.sleep(random.uniform(0, PING_SECONDS))
    while True:
        with contextlib.suppress(Exception):  # closed in the reconnect storm: the next goes on the new socket
            await client.ws.send(PING)
        await asyncio.sleep(PING_SECONDS)


# What else runs the chat, by process name, for the CPU of each step.
SERVICES = {"postgresql": "postgres", "redis": "redis-server"}


def cpu_seconds(servers) -> dict:
    """CPU seconds used so far: by the server processes, the load generator (this process), each
    PostgreSQL and Redis process (by pid: a process that starts later counts from zero), and the whole
    machine (busy time over all cores, whoever used it)."""
    used = {("servers", n): server.cpu() for n, server in enumerate(servers)}
    used["generator"] = sum(psutil.Process().cpu_times()[:2])
    for process in psutil.process_iter(["name", "cpu_times"]):
        for part, name in SERVICES.items():
            if process.info["name"] == name and process.info["cpu_times"] is not None:
                used[part, process.pid] = sum(process.info["cpu_times"][:2])
    machine = psutil.cpu_times()
    used["machine"] = sum(getattr(machine, busy, 0) for busy in ("user", "system", "nice", "irq", "softirq"))
    return used


def cores(before: dict, after: dict, seconds: float) -> dict:
    """The cores each part kept busy between two `cpu_seconds`, on average; `per_server` the servers'
    one by one (the visitors' process first): a process runs its Python on one core at a time."""
    parts = {"servers": 0.0, **dict.fromkeys(SERVICES, 0.0), "generator": 0.0, "machine": 0.0}
    per_server = []
    for key, used in after.items():
        part = key[0] if isinstance(key, tuple) else key
        parts[part] += used - before.get(key, 0.0)
        if part == "servers":
            per_server.append(round((used - before[key]) / seconds, 2))
    return {**{part: round(used / seconds, 2) for part, used in parts.items()}, "per_server": per_server}


async def run_step(
    rate: int, seconds: float, visitors, agents, servers, *, baseline: bool, step: str, storm=None
) -> dict:
    """Send `rate` messages a second for `seconds`: half from visitors, each in turn, half replies
    from agents, each to the visitor who wrote half a round of visitors before (seconds before, at any
    rate, as a person answers; a reply a millisecond after the visitor's message in the same
    conversation is one no agent writes, and it makes the two messages' writes collide)."""
    to_agents, to_visitors = visitors[0].to_agents, visitors[0].to_visitors
    to_agents.__init__()
    to_visitors.__init__()
    agent_names = {agent.name for agent in agents}
    total = int(rate * seconds)
    with collections_paused():
        started, cpu_before = time.perf_counter(), cpu_seconds(servers)
        offline: set = set()
        storm_task = None
        async for n in paced(total, 1 / rate):
            if storm and n == total // 2:
                storm_task = asyncio.create_task(storm(offline))
            visitor = visitors[(n // 2 + (n % 2) * len(visitors) // 2) % len(visitors)]
            if visitor.name in offline:
                continue
            tag = f"{'s' if n % 2 == 0 else 'r'}{step}-{n}"
            try:
                if n % 2 == 0:
                    await visitor.say(tag, agent_names)
                else:
                    agent = agents[visitor.number % len(agents)]
                    target_id = visitor.number if baseline else visitor.conversation_id
                    await agent.reply(target_id, tag, visitor.name)
            except Exception:
                pass  # a socket that dropped: its message was never sent, so it is not counted as sent
        sending_seconds = time.perf_counter() - started
        step_cores = cores(cpu_before, cpu_seconds(servers), sending_seconds)
        if storm_task:
            await storm_task
        await drain([to_agents, to_visitors], DRAIN_SECONDS)
    return {
        "rate": rate,
        "achieved_rate": round(total / sending_seconds, 1),
        "sent": len(to_agents.sent_at) + len(to_visitors.sent_at),
        "lost": to_agents.missing() + to_visitors.missing(),
        "lost_examples": (to_agents.missing_pairs() + to_visitors.missing_pairs())[:20],
        "refused": len(to_agents.refused) + len(to_visitors.refused),
        "refused_codes": sorted(set(to_agents.refused.values()) | set(to_visitors.refused.values())),
        "doubled": to_agents.doubled() + to_visitors.doubled(),
        "visitor_to_agent_ms": percentiles(to_agents.latencies),
        "agent_to_visitor_ms": percentiles(to_visitors.latencies),
        "cores": step_cores,
    }


async def run_steps(config, servers, visitors, agents, *, baseline: bool) -> tuple[list[dict], float]:
    """Each load step in turn until one is not sustained; returns the steps and the servers' CPU per
    message over the steps sustained (an overloaded step's CPU is mostly contention, and varies)."""
    name = "baseline" if baseline else "helpdesk"
    steps, cpu, messages = [], 0.0, 0
    for number, rate in enumerate(config["steps"]):
        cpu_before = sum(server.cpu() for server in servers)
        result = await run_step(
            rate, config["step_seconds"], visitors, agents, servers, baseline=baseline, step=f"{name[0]}{number}"
        )
        steps.append(result)
        print(f"  {name} {describe(result)}", flush=True)
        if not passed(result):
            if not messages:  # nothing sustained: this step is all there is to measure
                cpu, messages = sum(server.cpu() for server in servers) - cpu_before, result["sent"]
            break
        cpu += sum(server.cpu() for server in servers) - cpu_before
        messages += result["sent"]
    return steps, cpu / max(messages, 1) * 1000


def describe(result: dict) -> str:
    return (
        f"{result['rate']:>5}/s: achieved {result['achieved_rate']}/s, lost {result['lost']}, "
        f"refused {result['refused']}, doubled {result['doubled']}, v→a p99 {result['visitor_to_agent_ms']['p99']} ms, "
        f"a→v p99 {result['agent_to_visitor_ms']['p99']} ms, cores {result['cores']}"
    )


# A rate is sustained when nothing is lost, refused or doubled and deliveries keep up: a p99 beyond this means
# a queue that grows for as long as the rate lasts, even if the drain after the step empties it.
KEEPS_UP_P99_MS = 1000


def passed(result: dict) -> bool:
    latencies = [result[key]["p99"] for key in ("visitor_to_agent_ms", "agent_to_visitor_ms")]
    return (
        result["lost"] == 0
        and result["refused"] == 0
        and result["doubled"] == 0
        and result["achieved_rate"] >= 0.9 * result["rate"]
        and all(p99 is not None and p99 <= KEEPS_UP_P99_MS for p99 in latencies)
    )


async def open_all(clients, batch=100):
    for start in range(0, len(clients), batch):
        await asyncio.gather(*(client.open() for client in clients[start : start + batch]))


async def helpdesk_run(config, servers, cookies) -> dict:
    visitor_server, agent_server = servers
    to_agents, to_visitors = Ledger(), Ledger()
    agents = [HelpdeskAgent(n, agent_server, cookie, to_agents, to_visitors) for n, cookie in enumerate(cookies)]
    visitors = [HelpdeskVisitor(n, visitor_server, to_agents, to_visitors) for n in range(config["visitors"])]
    await open_all(agents)
    await open_all(visitors)
    pinging = [asyncio.create_task(keep_pinging(client)) for client in agents + visitors]
    for start in range(0, len(visitors), 50):
        await asyncio.gather(*(visitor.hello() for visitor in visitors[start : start + 50]))
    # Each visitor opens a conversation and its agent joins it by replying once.
    for start in range(0, len(visitors), 50):
        group = visitors[start : start + 50]
        await asyncio.gather(*(v.say(f"open-{v.number}", set(), wait=True) for v in group))
        await asyncio.gather(
            *(
                agents[v.number % len(agents)].reply(v.conversation_id, f"join-{v.number}", v.name, wait=True)
                for v in group
            )
        )
    await asyncio.sleep(1)

    steps, cpu_per_message_ms = await run_steps(config, servers, visitors, agents, baseline=False)

    # Reconnect storm: half the visitors drop mid-load and come back with the last id they saw. It
    # checks reconnection, not overload: at most the highest rate the helpdesk sustained.
    storm_rate = min(config["storm_rate"], sustained(steps) or config["steps"][0])

    async def storm(offline: set):
        dropped = visitors[::2]
        offline.update(v.name for v in dropped)
        await asyncio.gather(*(v.ws.close() for v in dropped))
        await asyncio.sleep(0.5)  # agents keep writing to them meanwhile
        for v in dropped:
            await v.open()
        await asyncio.gather(*(v.hello() for v in dropped))
        offline.clear()

    for visitor in visitors:
        visitor.seen_ids.clear()
    storm_result = await run_step(
        storm_rate, config["step_seconds"], visitors, agents, servers, baseline=False, step="storm", storm=storm
    )
    raw_doubles = sum(count - 1 for v in visitors for count in v.seen_ids.values() if count > 1)
    storm_result["raw_duplicate_frames"] = raw_doubles
    print(
        f"  reconnect storm at {storm_rate}/s: lost {storm_result['lost']}, refused {storm_result['refused']}, "
        f"doubled {storm_result['doubled']}, duplicate frames {raw_doubles}",
        flush=True,
    )

    for task in pinging:
        task.cancel()
    for client in visitors + agents:
        await client.close()
    return {"steps": steps, "storm": storm_result, "cpu_per_message_ms": round(cpu_per_message_ms, 2)}


async def baseline_run(config, servers) -> dict:
    visitor_server, agent_server = servers
    to_agents, to_visitors = Ledger(), Ledger()
    agents = [BaselineAgent(n, agent_server, to_agents, to_visitors) for n in range(config["agents"])]
    visitors = [BaselineVisitor(n, visitor_server, to_agents, to_visitors) for n in range(config["visitors"])]
    await open_all(agents)
    await open_all(visitors)
    await asyncio.sleep(0.5)
    steps, cpu_per_message_ms = await run_steps(config, servers, visitors, agents, baseline=True)
    for client in visitors + agents:
        await client.close()
    return {"steps": steps, "cpu_per_message_ms": round(cpu_per_message_ms, 2)}


async def idle_sockets(config, server) -> dict:
    """Memory per idle, greeted visitor socket held by one server process, then the CPU it costs to
    keep them: each pings as the chat box does, every PING_SECONDS, spread evenly."""
    count = config["idle_sockets"]
    before = server.rss()
    to_agents, to_visitors = Ledger(), Ledger()
    sockets = [HelpdeskVisitor(100_000 + n, server, to_agents, to_visitors) for n in range(count)]
    started = time.perf_counter()
    for start in range(0, count, 200):
        group = sockets[start : start + 200]
        await asyncio.gather(*(s.open() for s in group))
        await asyncio.gather(*(s.hello() for s in group))
    connect_seconds = time.perf_counter() - started
    await asyncio.sleep(2)
    after = server.rss()
    heartbeat = await heartbeats(sockets, server, config["heartbeat_seconds"])
    for start in range(0, count, 500):
        await asyncio.gather(*(s.close() for s in sockets[start : start + 500]))
    return {
        "sockets": count,
        "kb_per_socket": round((after - before) / count / 1024, 1),
        "connect_seconds": round(connect_seconds, 1),
        "heartbeat": heartbeat,
    }


async def heartbeats(sockets: list[HelpdeskVisitor], server, seconds: float) -> dict:
    """Every socket pings every PING_SECONDS for `seconds`, their pings spread evenly; the
    server's CPU over that time, per socket, and how long each pong took (a pong that never came is
    counted)."""
    latencies: list[float] = []
    for s in sockets:
        s.pong_latencies = latencies
    gap = PING_SECONDS / len(sockets)
    total = max(1, int(seconds / gap))
    cpu_before, began = server.cpu(), time.perf_counter()
    with collections_paused():
        async for n in paced(total, gap):
            await sockets[n % len(sockets)].ping()
        elapsed = time.perf_counter() - began
        cpu = server.cpu() - cpu_before
        deadline = time.perf_counter() + DRAIN_SECONDS
        while len(latencies) < total and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
    cores = cpu / elapsed
    return {
        "ping_every_seconds": PING_SECONDS,
        "pings": total,
        "pings_per_second": round(total / elapsed, 1),
        "pongs_missing": total - len(latencies),
        "pong_ms": percentiles(latencies),
        "server_cores": round(cores, 3),
        "cpu_us_per_socket_per_second": round(cores * 1e6 / len(sockets), 1),
        "cpu_ms_per_ping": round(cpu * 1000 / total, 3),
    }


def sustained(steps: list[dict]) -> int:
    return max((step["rate"] for step in steps if passed(step)), default=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes; a correctness check (nothing lost) for CI")
    parser.add_argument("--steps", help="comma-separated rates to try instead of the mode's, e.g. 250,500")
    parser.add_argument("--idle-sockets", type=int, help="idle sockets to hold instead of the mode's")
    args = parser.parse_args()
    config = dict(QUICK if args.quick else FULL)
    if args.steps:
        config["steps"] = [int(rate) for rate in args.steps.split(",")]
    if args.idle_sockets is not None:
        config["idle_sockets"] = args.idle_sockets

    fresh_services()
    setup_django(environment())
    cookies = agent_cookies(config["agents"])
    print(
        f"Chat load ({'quick' if args.quick else 'full'}): {config['visitors']} visitors, {config['agents']} agents",
        flush=True,
    )

    helpdesk_servers = [
        Server("helpdesk.asgi:application", environment()),
        Server("helpdesk.asgi:application", environment()),
    ]
    baseline_servers = [
        Server("bench.baseline:application", environment()),
        Server("bench.baseline:application", environment()),
    ]
    try:
        helpdesk = asyncio.run(helpdesk_run(config, helpdesk_servers, cookies))
        baseline = asyncio.run(baseline_run(config, baseline_servers))
        idle = asyncio.run(idle_sockets(config, helpdesk_servers[0]))
    finally:
        for server in helpdesk_servers + baseline_servers:
            server.stop()

    from conversations.widget import page_weight_gzipped

    helpdesk_rate, baseline_rate = sustained(helpdesk["steps"]), sustained(baseline["steps"])
    at_500 = next((s for s in helpdesk["steps"] if s["rate"] == 500), None)
    result = {
        "mode": "quick" if args.quick else "full",
        "machine": {
            "cores": psutil.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "helpdesk": helpdesk,
        "baseline": baseline,
        "idle": idle,
        "summary": {
            "lost": sum(s["lost"] for s in helpdesk["steps"]) + helpdesk["storm"]["lost"],
            "doubled": sum(s["doubled"] for s in helpdesk["steps"]) + helpdesk["storm"]["doubled"],
            "refused": sum(s["refused"] for s in helpdesk["steps"]) + helpdesk["storm"]["refused"],
            "storm_lost": helpdesk["storm"]["lost"],
            "storm_doubled": helpdesk["storm"]["doubled"],
            "sustained_per_second": helpdesk_rate,
            "baseline_sustained_per_second": baseline_rate,
            "ratio_to_baseline": round(helpdesk_rate / baseline_rate, 2) if baseline_rate else None,
            "visitor_to_agent_p99_ms_at_500": at_500["visitor_to_agent_ms"]["p99"] if at_500 else None,
            "kb_per_idle_socket": idle["kb_per_socket"],
            "idle_sockets": idle["sockets"],
            "idle_cores": idle["heartbeat"]["server_cores"],
            "idle_cpu_us_per_socket_per_second": idle["heartbeat"]["cpu_us_per_socket_per_second"],
            "idle_pong_p99_ms": idle["heartbeat"]["pong_ms"]["p99"],
            "pongs_missing": idle["heartbeat"]["pongs_missing"],
            "chat_box_gzip_kb": round(page_weight_gzipped() / 1024, 1),
            "cpu_per_message_ms": helpdesk["cpu_per_message_ms"],
            "baseline_cpu_per_message_ms": baseline["cpu_per_message_ms"],
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "chat_load_quick.json" if args.quick else "chat_load.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))
    # Correctness, in every mode: the load and the storm lost, refused and doubled nothing, and every
    # idle socket's ping was answered.
    failures = [key for key in ("lost", "refused", "doubled", "pongs_missing") if result["summary"][key]]
    lost_steps = [s for s in helpdesk["steps"] if s["lost"] or s["refused"] or s["doubled"]]
    if args.quick and (failures or lost_steps):
        print(f"FAILED: {failures}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
