"""The production channel layer: channels_redis's core layer, configured so load cannot silently drop
fan-out or starve sockets.

Out of the box the core layer has four ways to lose messages or sockets under load: redis-py's
asyncio pool allows 100 connections and then fails; a group member whose queue holds `capacity`
(100) messages is skipped by `group_send` with only an info log; the in-process receive buffer drops
its oldest message when full; and redis-py's default 5 s socket timeout races the layer's own 5 s
blocking pop, so a quiet receive loop can die with a TimeoutError and take every websocket of the
process with it. Here the pool blocks until a connection is free (bounded by `pool_timeout`), the
capacity is high enough that only a consumer that has stopped reading ever reaches it (channels_redis
logs that), and the socket timeout is longer than the blocking pop. The database stays the source
of truth: a client that reconnects asks for everything after the last message id it saw.
"""

from channels_redis.core import RedisChannelLayer
from redis import asyncio as aioredis


class ReliableRedisChannelLayer(RedisChannelLayer):
    def __init__(
        self, hosts=None, capacity=10_000, max_connections=1_000, pool_timeout=30, socket_timeout=30, **kwargs
    ):
        super().__init__(hosts=hosts, capacity=capacity, **kwargs)
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.socket_timeout = max(socket_timeout, self.brpop_timeout + 5)

    def create_pool(self, index):
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
            return aioredis.BlockingConnectionPool.from_url(address, **options)
        return aioredis.BlockingConnectionPool(**options)
