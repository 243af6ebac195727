import asyncio
import threading

import pytest

from helpdesk.channel_layer import ReliableRedisChannelLayer


async def received(layer, channel, timeout=0.5):
    try:
        return await asyncio.wait_for(layer.receive(channel), timeout)
    except TimeoutError:
        return None


@pytest.mark.asyncio
async def test_one_message_to_several_groups_reaches_each_member_once(redis_url):
    layer = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-many")
    inbox_reader = await layer.new_channel()
    assigned_reader = await layer.new_channel()  # in both groups
    outsider = await layer.new_channel()
    await layer.group_add("inbox-full", inbox_reader)
    await layer.group_add("inbox-full", assigned_reader)
    await layer.group_add("agent-7", assigned_reader)
    await layer.group_add("agent-8", outsider)

    await layer.group_send_all([(["inbox-full", "agent-7", "inbox-empty"], {"type": "frame.send", "n": 1})])

    assert (await received(layer, inbox_reader))["n"] == 1
    assert (await received(layer, assigned_reader))["n"] == 1
    assert await received(layer, assigned_reader) is None  # not a second copy
    assert await received(layer, outsider) is None
    await layer.flush()


@pytest.mark.asyncio
async def test_several_deliveries_in_one_send_arrive_whole_and_in_order(redis_url):
    """A conversation event goes to the dashboards and, as the visitor sees it, to the visitor's chat
    boxes, in one send. A socket in both gets both, in order, even when they are equal; every value
    arrives as it was sent."""
    layer = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-all")
    other_process = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-all")
    await layer.flush()
    dashboard, chat_box, elsewhere = (
        await layer.new_channel(),
        await layer.new_channel(),
        await other_process.new_channel(),
    )
    await layer.group_add("inbox-full", dashboard)
    await layer.group_add("inbox-full", elsewhere)
    await layer.group_add("visitor-1", chat_box)
    await layer.group_add("visitor-1", dashboard)
    event = {"type": "frame.send", "text": "Árvíztűrő \u2603 \U0001f600", "n": 2**40, "nested": {"a": [1, None, True]}}

    await layer.group_send_all(
        [
            (["inbox-full"], event),
            (["visitor-1"], {"type": "frame.send", "n": 2}),
            (["visitor-1"], {"type": "frame.send", "n": 2}),
        ]
    )

    assert await received(layer, dashboard) == event
    assert await received(layer, dashboard) == {"type": "frame.send", "n": 2}
    assert await received(layer, dashboard) == {"type": "frame.send", "n": 2}
    assert [await received(layer, chat_box), await received(layer, chat_box)] == [{"type": "frame.send", "n": 2}] * 2
    assert await received(layer, chat_box) is None
    assert await received(other_process, elsewhere) == event
    await layer.flush()


@pytest.mark.asyncio
async def test_group_send_reaches_a_channel_of_its_own_and_a_layer_with_capacities_per_channel(redis_url):
    """Channels that are not a process's (no `!`) have their own queue; a layer configured with
    capacities per channel sends a group at a time."""
    for layer in (
        ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-own"),
        ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-own", channel_capacity={"worker*": 50}),
    ):
        await layer.flush()
        reader = await layer.new_channel()
        await layer.group_add("workers", "worker-queue")
        await layer.group_add("workers", reader)

        await layer.group_send_all([(["workers"], {"type": "job", "n": 1})])

        assert (await received(layer, "worker-queue"))["n"] == 1
        assert (await received(layer, reader))["n"] == 1
        await layer.flush()


@pytest.mark.asyncio
async def test_deliveries_sent_off_the_event_loop_arrive_as_those_sent_on_it(redis_url):
    """The services' fan-out after commit sends from a database or request thread, on a blocking
    connection; a layer that sends a group at a time hands it to an event loop."""
    for layer in (
        ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-blocking"),
        ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-blocking", channel_capacity={"worker*": 50}),
    ):
        other_process = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-blocking")
        await layer.flush()
        dashboard, chat_box = await other_process.new_channel(), await other_process.new_channel()
        await layer.group_add("inbox-full", dashboard)
        await layer.group_add("visitor-1", chat_box)
        event = {"type": "frame.send", "text": "Árvíztűrő \u2603", "n": 2**40}

        deliveries = [(["inbox-full", "visitor-1"], event), (["visitor-1"], {"type": "frame.send"})]
        await asyncio.to_thread(layer.group_send_all_blocking, deliveries)

        assert await received(other_process, dashboard) == event
        assert await received(other_process, chat_box) == event
        assert await received(other_process, chat_box) == {"type": "frame.send"}
        assert await received(other_process, dashboard) is None
        await layer.flush()


@pytest.mark.asyncio
async def test_sending_to_groups_without_members_is_no_error(redis_url):
    layer = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-many-empty")
    await layer.group_send_all([(["nobody-here", "nor-here"], {"type": "frame.send"})])
    await layer.flush()


@pytest.mark.asyncio
async def test_disconnect_that_waits_longer_than_any_deadline_for_a_connection_still_leaves_its_group(
    redis_url, monkeypatch
):
    """A burst of disconnects queues for the layer's connections, and the queue drains only as fast as
    the process runs: every disconnect in it must leave its groups however long it waits. (Closing
    10,000 sockets took over 30 s, and the disconnects still queued then gave up with `No connection
    available`.) The clock is moved on an hour instead of waiting."""
    layer = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-burst", max_connections=1)
    await layer.flush()  # nothing left from an earlier run
    channels = [await layer.new_channel() for _ in range(20)]
    for channel in channels:
        await layer.group_add("visitor-burst", channel)
    pool = layer.connection(0).connection_pool
    busy = await pool.get_connection()  # the head of the burst holds the only connection
    leaving = [asyncio.ensure_future(layer.group_discard("visitor-burst", channel)) for channel in channels]
    await asyncio.sleep(0.05)  # every disconnect now waits for the connection

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "time", lambda real_time=loop.time: real_time() + 3600)
    await asyncio.sleep(0.05)  # any deadline on the wait has passed
    await pool.release(busy)
    results = await asyncio.gather(*leaving, return_exceptions=True)

    assert [result for result in results if isinstance(result, BaseException)] == []
    assert await layer.connection(0).zcard(layer._group_key("visitor-burst")) == 0
    await layer.flush()


@pytest.mark.asyncio
async def test_a_socket_closing_while_the_process_receives_loses_no_other_sockets_message(redis_url):
    """The consumers of a process take turns popping the process's messages off Redis for all of them.
    When the socket whose consumer is popping closes, its wait is cancelled: a message Redis handed it
    at that moment, meant for another socket, must still reach that socket. (It was lost: the pop had
    happened in Redis, and its reply was dropped with the cancelled wait.)"""
    layer = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-cancelled-pop")
    sender = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-cancelled-pop")
    await layer.flush()
    closing, staying = await layer.new_channel(), await layer.new_channel()
    popping = asyncio.ensure_future(layer.receive(closing))  # first in: it pops for the process
    waiting = asyncio.ensure_future(layer.receive(staying))
    await asyncio.sleep(0.2)  # both wait; `closing` blocks in Redis

    # Another process sends it, while this one is busy: Redis hands it to `closing`'s pop...
    other_process = threading.Thread(target=lambda: asyncio.run(sender.send(staying, {"type": "frame.send", "n": 1})))
    other_process.start()
    other_process.join()
    popping.cancel()  # ...and `closing`'s socket closes before the reply is read

    assert (await asyncio.wait_for(waiting, 2))["n"] == 1
    await layer.flush()


@pytest.mark.asyncio
async def test_messages_waiting_for_a_process_reach_each_socket_once_and_in_order(redis_url):
    """A process takes the messages waiting for its sockets in batches (here of four), and a message
    for two of its sockets (a group send) is one entry in the queue."""
    layer = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-batch", receive_batch=4)
    await layer.flush()
    first, second = await layer.new_channel(), await layer.new_channel()
    for n in range(10):
        await layer.send(first if n % 3 else second, {"type": "frame.send", "n": n})
    await layer.group_add("both", first)
    await layer.group_add("both", second)
    await layer.group_send_all([(["both"], {"type": "frame.send", "n": 10})])

    got_first = [(await received(layer, first))["n"] for _ in range(7)]
    got_second = [(await received(layer, second))["n"] for _ in range(5)]

    assert got_first == [1, 2, 4, 5, 7, 8, 10]
    assert got_second == [0, 3, 6, 9, 10]
    assert await received(layer, first) is None
    assert await received(layer, second) is None
    await layer.flush()


@pytest.mark.asyncio
async def test_messages_taken_by_a_receive_that_is_cancelled_go_to_the_next_receive(redis_url, monkeypatch):
    """Redis has handed the waiting messages to a receive, and the receiving socket closes before the
    reply is read: the next receive gets them all, in order."""
    layer = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-batch-cancelled")
    await layer.flush()
    closing, staying = await layer.new_channel(), await layer.new_channel()
    for n in range(3):
        await layer.send(staying, {"type": "frame.send", "n": n})
    redis_client = type(layer.connection(0))
    real_bzmpop = redis_client.bzmpop
    handed_over = []

    async def slow_reply(self, *args, **kwargs):
        reply = await real_bzmpop(self, *args, **kwargs)
        handed_over.append(reply)
        await asyncio.sleep(0.2)  # the reply is still on its way when the socket closes
        return reply

    monkeypatch.setattr(redis_client, "bzmpop", slow_reply)
    popping = asyncio.ensure_future(layer.receive(closing))
    await asyncio.sleep(0.1)
    popping.cancel()
    monkeypatch.setattr(redis_client, "bzmpop", real_bzmpop)

    assert len(handed_over[0][1]) == 3  # Redis had handed over all three
    assert [(await received(layer, staying, timeout=1))["n"] for _ in range(3)] == [0, 1, 2]
    assert await received(layer, staying) is None
    await layer.flush()


@pytest.mark.asyncio
async def test_when_reading_from_redis_fails_every_waiting_socket_hears_it_and_the_next_receive_reads_again(
    redis_url, monkeypatch
):
    """One reader takes the process's messages off Redis for all of its sockets. If it fails, each
    waiting socket's receive raises (its consumer ends and its client reconnects and catches up), and
    nothing stays stuck: the next receive reads again."""
    import redis

    layer = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-read-fails")
    await layer.flush()
    first, second = await layer.new_channel(), await layer.new_channel()
    redis_client = type(layer.connection(0))
    real_bzmpop = redis_client.bzmpop

    async def broken(self, *args, **kwargs):
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(redis_client, "bzmpop", broken)
    waiting = [asyncio.ensure_future(layer.receive(channel)) for channel in (first, second)]
    for receive in waiting:
        with pytest.raises(redis.ConnectionError):
            await asyncio.wait_for(receive, 2)

    monkeypatch.setattr(redis_client, "bzmpop", real_bzmpop)
    await layer.send(second, {"type": "frame.send", "n": 1})
    assert (await received(layer, second, timeout=2))["n"] == 1
    await layer.flush()
