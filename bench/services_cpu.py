#!/usr/bin/env python
"""CPU of the chat's services alone, in this process, on PostgreSQL and Redis: what a visitor's message
and an agent's reply cost in Python (`time.process_time`), how long each takes (wall), and how many
statements and Redis commands each sends. No websockets, no event loop: the services as the consumers'
database threads run them, in a live chat (agents online, each visitor answered by their agent).

    python bench/services_cpu.py [--messages N] [--rounds R] [--profile]

The chat benchmark's figures move with the machine's other load by more than a change to a service
does; these move less, and the counts not at all. Compare alternating runs of two versions. It makes a
fresh database named as `BENCH_DATABASE` with `_services` after it (helpdesk_bench_services), and uses
database 14 of `BENCH_REDIS_URL`'s server, which it flushes.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import fresh_database, production_environment, setup_django

DATABASE = os.environ.get("BENCH_DATABASE", "helpdesk_bench") + "_services"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[0] + "/14"
AGENTS, VISITORS = 5, 50


class Counted:
    """CPU seconds, wall seconds, statements and Redis round trips of the calls made inside `with
    counted:`, added up."""

    redis_sent = 0  # round trips to Redis from this process so far (`count_redis_round_trips`)

    def __init__(self):
        self.cpu = self.wall = 0.0
        self.calls = self.statements = self.redis = 0

    def __call__(self, execute, sql, params, many, context):  # a Django execute wrapper
        self.statements += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._wrapped = connection.execute_wrapper(self)
        self._wrapped.__enter__()
        self._redis = Counted.redis_sent
        self._cpu, self._wall = time.process_time(), time.perf_counter()

    def __exit__(self, *exc):
        self.cpu += time.process_time() - self._cpu
        self.wall += time.perf_counter() - self._wall
        self.redis += Counted.redis_sent - self._redis
        self.calls += 1
        self._wrapped.__exit__(*exc)

    def figures(self) -> str:
        calls = max(self.calls, 1)
        return (
            f"{self.cpu / calls * 1e3:.3f} ms CPU, {self.wall / calls * 1e3:.3f} ms wall, "
            f"{self.statements / calls:.2f} statements, {self.redis / calls:.2f} Redis round trips"
        )


def count_redis_round_trips() -> None:
    """Count each command or pipeline redis-py sends from this process (blocking connections: the
    services' fan-out, the cache, presence)."""
    from redis.connection import AbstractConnection

    send = AbstractConnection.send_packed_command

    def counted_send(connection, command, check_health=True):
        Counted.redis_sent += 1
        return send(connection, command, check_health)

    AbstractConnection.send_packed_command = counted_send


def live_chat():
    """Agents online with full access, and visitors each in a conversation their agent has joined."""
    from conversations import services
    from helpdesk.models import Agent
    from visitors.models import Visitor

    agents = [
        Agent.objects.create_user(
            f"bench{n}@example.com", "x", name=f"Bench agent {n}", role=Agent.Role.FULL, status=Agent.Status.ONLINE
        )
        for n in range(AGENTS)
    ]
    keep_agents_online()
    chats = []
    for n in range(VISITORS):
        visitor = Visitor.objects.create()
        opened = services.visitor_message_create(visitor=visitor, body="hello", client_id=f"open-{n}")
        agent = agents[n % AGENTS]
        services.agent_message_create(
            agent=agent, conversation_id=opened.conversation_id, body="hi", client_id=f"join-{n}"
        )
        chats.append((visitor, agent, opened.conversation_id))
    return chats


def keep_agents_online() -> None:
    """A heartbeat from every agent's dashboard."""
    from helpdesk import services as account_services
    from helpdesk.models import Agent

    for agent in Agent.objects.all():
        account_services.agent_heartbeat(agent=agent)


def talk(chats, messages: int, tag: str, visitor_counted: Counted, reply_counted: Counted) -> None:
    """`messages` visitor messages, each answered by the visitor's agent, visitors in turn."""
    from conversations import services

    for n in range(messages):
        visitor, agent, conversation_id = chats[n % len(chats)]
        with visitor_counted:
            services.visitor_message_create(
                visitor=visitor, body=f"bench s{tag}-{n} from a visitor", client_id=f"s{tag}-{n}"
            )
        with reply_counted:
            services.agent_message_create(
                agent=agent,
                conversation_id=conversation_id,
                body=f"bench r{tag}-{n} to a visitor",
                client_id=f"r{tag}-{n}",
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000, help="visitor messages per round, each answered")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="then one more round under cProfile")
    args = parser.parse_args()

    import redis

    fresh_database(DATABASE)
    redis.Redis.from_url(REDIS_URL).flushdb()
    setup_django(production_environment(database=DATABASE, redis_url=REDIS_URL))
    count_redis_round_trips()
    chats = live_chat()
    talk(chats, args.messages, "warm", Counted(), Counted())
    print(f"Services alone: {args.messages} visitor messages and as many replies a round, {len(chats)} chats")
    for number in range(args.rounds):
        keep_agents_online()  # their presence lapses after AGENT_PRESENCE_TTL: the messages would be offline ones
        visitor_counted, reply_counted = Counted(), Counted()
        talk(chats, args.messages, str(number), visitor_counted, reply_counted)
        print(f"  round {number + 1}: visitor message {visitor_counted.figures()}")
        print(f"           reply           {reply_counted.figures()}")
    if args.profile:
        keep_agents_online()
        profile = cProfile.Profile()
        profile.enable()
        talk(chats, args.messages, "profile", Counted(), Counted())
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    main()
