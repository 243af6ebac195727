"""The production channel layer: channels_redis's core layer, configured so load cannot silently drop
fan-out or starve sockets, sending an event's messages, each to several groups, in one round trip
(`group_send_all`), and taking every message waiting for a process's sockets in one (`receive`,
with `BZMPOP`: Redis 7 or newer).

Out of the box the core layer has four ways to lose messages or sockets under load: redis-py's
asyncio pool allows 100 connections and then fails; a group member whose queue holds `capacity`
(100) messages is skipped by `group_send` with only an info log; the in-process receive buffer drops
its oldest message when full; and redis-py's default 5 s socket timeout races the layer's own 5 s
blocking pop, so a quiet receive loop can die with a TimeoutError and take every websocket of the
process with it. Here the pool blocks until a connection is free, the capacity is high enough that
only a consumer that has stopped reading ever reaches it (channels_redis logs that), and the socket
timeout is longer than the blocking pop. The database stays the source of truth: a client that
reconnects asks for everything after the last message id it saw.

The wait for a connection has no deadline (`pool_timeout=None`). A burst (thousands of sockets closing
at once) queues its commands for the pool, and the queue drains only as fast as the process runs:
with a deadline, the commands still queued when it passes fail with `No connection available`, and a
disconnect that fails leaves its channel in its groups. Every connection is lent for one command, whose
connect and reply are bounded by the socket timeouts, so a waiter always gets one.

A fifth way, found by the benchmark's reconnect storm: in channels_redis the consumers of a process
take turns popping the process's messages off Redis, and a socket that closes cancels its consumer's
pop. A message Redis had just handed to that pop was lost, whichever socket it was for. Here one reader
per process pops for all of its sockets (`receive`), and a pop that is cancelled all the same (the
process shutting down) puts what it got back on the queue (`_uncancelled_pop`).
"""

import asyncio
import functools
import logging
import time
from typing import NamedTuple

import redis
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from channels_redis.serializers import MsgPackSerializer
from redis import asyncio as aioredis

logger = logging.getLogger(__name__)

# Group sends, in one step: for each delivery, the channels in any of its groups (expired members
# dropped first), each channel once, by the key of the queue it is read from (a process's queue holds
# the messages for all of its sockets); then, for each key, drop its expired messages and add the
# message unless the queue is full. A message is serialized in Python up to its last value, the list of
# the key's channels, which is appended here (`cmsgpack` packs a list of strings as msgpack does).
# Each delivery's score is a microsecond after the one before, so a queue keeps them in order.
# KEYS: the deliveries' group keys, in order. ARGV: the time, the groups' expiry, the messages'
# expiry, a queue's capacity, the key prefix, then per delivery its number of groups and its message.
GROUP_SEND_LUA = """
local now = tonumber(ARGV[1])
local group_expiry = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local capacity = tonumber(ARGV[4])
local prefix = ARGV[5]
local over_capacity = 0
local next_key = 1
local delivery = 0
for arg = 6, #ARGV, 2 do
    local queues, channels_of, seen = {}, {}, {}
    for g = next_key, next_key + tonumber(ARGV[arg]) - 1 do
        redis.call('ZREMRANGEBYSCORE', KEYS[g], 0, math.floor(now) - group_expiry)
        for _, channel in ipairs(redis.call('ZRANGE', KEYS[g], 0, -1)) do
            if not seen[channel] then
                seen[channel] = true
                local bang = string.find(channel, '!', 1, true)
                local queue = prefix .. (bang and string.sub(channel, 1, bang) or channel)
                if not channels_of[queue] then
                    channels_of[queue] = {}
                    table.insert(queues, queue)
                end
                table.insert(channels_of[queue], channel)
            end
        end
    end
    next_key = next_key + tonumber(ARGV[arg])
    local score = now + delivery / 1000000
    for _, queue in ipairs(queues) do
        redis.call('ZREMRANGEBYSCORE', queue, 0, now - expiry)
        if redis.call('ZCARD', queue) < capacity then
            redis.call('ZADD', queue, score, ARGV[arg + 1] .. cmsgpack.pack(channels_of[queue]))
            redis.call('EXPIRE', queue, expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    delivery = delivery + 1
end
return over_capacity
"""
# How msgpack packs None: the placeholder for the list of channels, cut off before the script appends it.
MSGPACK_NIL = b"\xc0"


async def _uncancelled_pop(connection, channel: str, timeout, count: int) -> list[tuple[bytes, bytes]] | None:
    """The next messages waiting on `channel`, up to `count`, as (member, score), in one `BZMPOP`
    that waits for the first (None when none came within `timeout`). Cancelling the wait (the process's
    reader stopping) does not cancel the pop: what it gets then goes back to the head of the queue
    (`_put_back`), for the next reader."""
    popped = asyncio.ensure_future(connection.bzmpop(timeout, 1, [channel], min=True, count=count))
    try:
        return _members(await asyncio.shield(popped))
    except asyncio.CancelledError:
        popped.add_done_callback(functools.partial(_put_back, connection, channel))
        raise


def _members(reply) -> list[tuple[bytes, bytes]] | None:
    """`BZMPOP`'s reply, [key, [[member, score], ...]], as its (member, score) pairs."""
    return None if reply is None else [(member, score) for member, score in reply[1]]


def _put_back(connection, channel: str, popped: asyncio.Future) -> None:
    """Return the messages popped by a reader that has stopped to the head of their queue (their
    scores keep their places)."""
    if popped.cancelled() or popped.exception() is not None or popped.result() is None:
        return
    returned = asyncio.ensure_future(
        connection.zadd(channel, {member: float(score) for member, score in _members(popped.result())})
    )
    returned.add_done_callback(_log_failed_return)


def _log_failed_return(returned: asyncio.Future) -> None:
    if not returned.cancelled() and returned.exception() is not None:
        logger.error("Messages popped by a stopped reader could not be put back", exc_info=returned.exception())


class _ReadFailed(NamedTuple):
    """In a socket's buffer: reading the process's messages off Redis failed with `error`."""

    error: Exception


class ReliableRedisChannelLayer(RedisChannelLayer):
    def __init__(
        self,
        hosts=None,
        capacity=10_000,
        max_connections=1_000,
        pool_timeout=None,
        socket_timeout=30,
        receive_batch=100,
        **kwargs,
    ):
        super().__init__(hosts=hosts, capacity=capacity, **kwargs)
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.socket_timeout = max(socket_timeout, self.brpop_timeout + 5)
        self.receive_batch = receive_batch
        self._reader: asyncio.Task | None = None
        # `GROUP_SEND_LUA` sends groups when every key is on one server, one capacity fits all
        # channels, and messages are packed as channels_redis packs them (msgpack, not encrypted).
        self.sends_groups_in_one_script = (
            len(self.hosts) == 1
            and not self.channel_capacity
            and isinstance(self._serializer, MsgPackSerializer)
            and self._serializer.crypter is None
        )

    async def receive(self, channel):
        """A socket's next message. One reader per process (`_read_for_sockets`) takes the messages for
        all of the process's sockets off Redis and buffers each for its socket; a socket waits on its
        own buffer alone. In channels_redis the waiting sockets take turns reading, behind a lock: every
        message that reaches the process wakes sockets that each make two new tasks and race them,
        about 0.1 ms of CPU per socket (`bench/layer_cpu.py`)."""
        if "!" not in channel:  # a channel of its own, read by one consumer (none in this project)
            return await super().receive(channel)
        assert self.require_valid_channel_name(channel)
        process_channel = self.non_local_name(channel)
        assert process_channel.endswith(self.client_prefix + "!"), "Wrong client prefix"
        buffer = self.receive_buffer[channel]
        self.receive_count += 1
        try:
            if buffer.empty():
                self._keep_reading(process_channel)
            message = await buffer.get()
        except asyncio.CancelledError:
            self.receive_buffer.pop(channel, None)  # the socket is closing, as channels_redis has it
            raise
        finally:
            self.receive_count -= 1
        if buffer.empty() and self.receive_buffer.get(channel) is buffer:
            del self.receive_buffer[channel]
        if isinstance(message, _ReadFailed):
            raise message.error
        return message

    def _keep_reading(self, process_channel: str) -> None:
        """Start the process's reader unless it runs (it stops when no socket waits)."""
        loop = asyncio.get_running_loop()
        reader = self._reader
        if reader is not None and not reader.done() and not reader.get_loop().is_closed():
            if reader.get_loop() is not loop:
                raise RuntimeError("Two event loops are trying to receive() on one channel layer at once!")
            return
        self._reader = loop.create_task(self._read_for_sockets(process_channel))

    async def _read_for_sockets(self, process_channel: str) -> None:
        """Buffer the process's messages, each for its sockets, in order, while any socket waits. When
        Redis fails, every waiting socket gets the error (its consumer ends, its client reconnects and
        asks for what it missed), and the next receive starts a new reader."""
        try:
            while self.receive_count:
                for message_channel, message in await self._pop_for_sockets(process_channel):
                    for name in message_channel if isinstance(message_channel, list) else [message_channel]:
                        self.receive_buffer[name].put_nowait(message)
        except Exception as error:
            for buffer in list(self.receive_buffer.values()):
                buffer.put_nowait(_ReadFailed(error))

    async def _pop_for_sockets(self, process_channel: str) -> list[tuple]:
        """The process's next messages, for all of its sockets, in order, each as (its channel or
        channels, the message): every message waiting (up to `receive_batch`), or the next to come, in
        one round trip, where channels_redis's `receive_single` takes four per message (put back its
        backup, pop, back it up, clean the backup). The pop is never cancelled, so it needs no backup
        (`_uncancelled_pop`)."""
        assert self.require_valid_channel_name(process_channel, receive=True), "Channel name invalid"
        connection = self.connection(self.consistent_hash(process_channel))
        popped = None
        while popped is None:
            popped = await _uncancelled_pop(
                connection, self.prefix + process_channel, self.brpop_timeout, self.receive_batch
            )
        return [self._addressed(process_channel, self.deserialize(member)) for member, _score in popped]

    @staticmethod
    def _addressed(channel, message: dict):
        """(the channel or channels a message is for, the message), as channels_redis unpacks it."""
        if "__asgi_channel__" in message:
            channel = message.pop("__asgi_channel__")
        return channel, message

    def create_pool(self, index):
        return self._pool(aioredis.BlockingConnectionPool, index)

    def _pool(self, pool_class, index):
        host = self.hosts[index].copy()
        address = host.pop("address", None)
        options = {
            "max_connections": self.max_connections,
            "timeout": self.pool_timeout,
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": 5,
            **host,
        }
        if address:
            return pool_class.from_url(address, **options)
        return pool_class(**options)

    async def group_send_all(self, deliveries: list[tuple[list[str], dict]]) -> None:
        """Send each `(groups, message)` once to every channel in any of its groups, in order: one round
        trip for them all on one Redis server (`GROUP_SEND_LUA`), where `group_send` takes up to four
        per group. A channel in two of a delivery's groups gets its message once."""
        if not self.sends_groups_in_one_script:
            # A group at a time, as channels_redis sends them: a channel in two groups gets it twice.
            for groups, message in deliveries:
                for group in groups:
                    await self.group_send(group, message)
            return
        script_call = self._group_send_script_call(deliveries)
        self._warn_over_capacity(await self.connection(0).eval(*script_call), deliveries)

    def group_send_all_blocking(self, deliveries: list[tuple[list[str], dict]]) -> None:
        """`group_send_all` for code outside the event loop (the services' fan-out after commit, on a
        database or request thread): the same script on a blocking connection, where `async_to_sync`
        would hand the send to the event loop and wait for it, about 0.1 ms of CPU a call."""
        if not self.sends_groups_in_one_script:
            async_to_sync(self.group_send_all)(deliveries)
            return
        script_call = self._group_send_script_call(deliveries)
        self._warn_over_capacity(self._blocking_connection.eval(*script_call), deliveries)

    def _group_send_script_call(self, deliveries) -> tuple:
        keys, args = [], []
        for groups, message in deliveries:
            for group in groups:
                assert self.require_valid_group_name(group), "Group name not valid"
            keys += [self._group_key(group) for group in groups]
            args += [len(groups), self._serialized_up_to_channels(message)]
        now = time.time()
        return GROUP_SEND_LUA, len(keys), *keys, now, self.group_expiry, self.expiry, self.capacity, self.prefix, *args

    @staticmethod
    def _warn_over_capacity(over_capacity: int, deliveries) -> None:
        if over_capacity:
            logger.warning("%s channels over capacity in groups %s", over_capacity, [g for g, _m in deliveries])

    @functools.cached_property
    def _blocking_connection(self) -> redis.Redis:
        return redis.Redis(connection_pool=self._pool(redis.BlockingConnectionPool, 0))

    def _serialized_up_to_channels(self, message: dict) -> bytes:
        """The message as channels_redis serializes it for a channel key, but for its last value, the
        list of the key's channels (`__asgi_channel__`), which the script appends."""
        addressed = {key: value for key, value in message.items() if key != "__asgi_channel__"}
        addressed["__asgi_channel__"] = None
        packed = self.serialize(addressed)
        assert packed.endswith(MSGPACK_NIL)
        return packed[: -len(MSGPACK_NIL)]
