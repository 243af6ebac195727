#!/usr/bin/env python
"""CPU of the channel layer alone, in this process, against Redis: what one chat message's fan-out
costs the sending process (from the event loop, and from a worker thread as the services send it),
and what receiving it costs a process with six sockets.

    python bench/layer_cpu.py

The chat benchmark's figures move with the machine's other load by more than a change to the layer
does; this measures the layer's own client CPU (`time.process_time`, `time.thread_time`), which moves
less: over five runs on the 2-core machine, the fan-out 215 to 227 µs (one run 340) and receiving
628 to 829 µs; on a faster day, five runs of the fan-out from a worker thread gave 67 to 88 µs, and
handed to the event loop 199 to 274 µs. Receiving, on a slow day, six alternating pairs of runs: 409
to 493 µs with one reader per process, 530 to 628 µs with channels_redis's receive (the waiting sockets
racing for its lock). Compare alternating runs of two versions. It uses database
14 of `BENCH_REDIS_URL`'s server and flushes it.
"""

import asyncio
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[0] + "/14"
ROUNDS = 2_000
RECEIVED = 1_500
RECEIVE_RATE = 150  # group messages a second, sent by another thread as another process would


def layer():
    from helpdesk.channel_layer import ReliableRedisChannelLayer

    return ReliableRedisChannelLayer(hosts=[REDIS_URL], prefix="bench-layer")


async def chat_message_deliveries():
    """A sending layer whose groups hold one chat message's recipients (three dashboard groups with
    five sockets in another process, and the visitor's chat box), and that message's deliveries."""
    from conversations.realtime import frame_message

    sender, agents, visitors = layer(), layer(), layer()
    await sender.flush()
    for _ in range(5):
        await sender.group_add("inbox-full", await agents.new_channel())
    await sender.group_add("agent-1", await agents.new_channel())
    await sender.group_add("visitor-1", await visitors.new_channel())
    frame = {"type": "message.created", "conversation": {"id": 1}, "message": {"id": 5, "body": "x" * 80}}

    def deliveries():
        message = frame_message(frame)
        return [(["inbox-full", "inbox-group-3", "agent-1"], message), (["visitor-1"], message)]

    return sender, deliveries


async def fan_out_cpu() -> float:
    """µs of CPU to send one chat message's deliveries from the event loop."""
    sender, deliveries = await chat_message_deliveries()
    started = time.process_time()
    for _ in range(ROUNDS):
        await sender.group_send_all(deliveries())
    cpu = time.process_time() - started
    await sender.flush()
    return cpu / ROUNDS * 1e6


async def fan_out_from_thread_cpu(through_loop: bool) -> float:
    """µs of CPU (all threads) to send the same deliveries from a worker thread, as the services' fan-out
    after commit does: on the layer's blocking connection, or handed to the event loop
    (`async_to_sync`), as it was before."""
    from asgiref.sync import async_to_sync, sync_to_async

    sender, deliveries = await chat_message_deliveries()
    send = async_to_sync(sender.group_send_all) if through_loop else sender.group_send_all_blocking

    def rounds():
        for _ in range(ROUNDS):
            send(deliveries())

    started = time.process_time()
    await sync_to_async(rounds, thread_sensitive=False)()  # as the consumers' database threads run
    cpu = time.process_time() - started
    await sender.flush()
    return cpu / ROUNDS * 1e6


async def receive_cpu() -> float:
    """µs of the event loop's CPU per group message received by a process whose five dashboards and
    one chat box take turns: half the messages go to the dashboards, half to the chat box."""
    receiver = layer()
    await receiver.flush()
    dashboards = [await receiver.new_channel() for _ in range(5)]
    chat_box = await receiver.new_channel()
    for channel in dashboards:
        await receiver.group_add("inbox-full", channel)
    await receiver.group_add("visitor-1", chat_box)

    async def consume(channel):
        for _ in range(RECEIVED // 2):
            await receiver.receive(channel)

    def other_process():
        async def send():
            sender = layer()
            started = time.perf_counter()
            for n in range(RECEIVED):
                if (delay := started + n / RECEIVE_RATE - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                await sender.group_send("inbox-full" if n % 2 else "visitor-1", {"type": "frame.send", "n": n})

        asyncio.run(send())

    consumers = [asyncio.ensure_future(consume(channel)) for channel in [*dashboards, chat_box]]
    await asyncio.sleep(0.2)
    sending = threading.Thread(target=other_process)
    started = time.thread_time()
    sending.start()
    await asyncio.wait_for(asyncio.gather(*consumers), 60)
    cpu = time.thread_time() - started
    sending.join()
    await receiver.flush()
    return cpu / RECEIVED * 1e6


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()
    print(f"fan-out of one chat message: {asyncio.run(fan_out_cpu()):.0f} µs of CPU")
    print(
        f"the same from a worker thread: {asyncio.run(fan_out_from_thread_cpu(through_loop=False)):.0f} µs "
        f"(handed to the event loop: {asyncio.run(fan_out_from_thread_cpu(through_loop=True)):.0f} µs)"
    )
    print(f"receiving one group message (6 sockets): {asyncio.run(receive_cpu()):.0f} µs of the loop's CPU")


if __name__ == "__main__":
    main()
