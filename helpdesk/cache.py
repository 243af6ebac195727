"""The Django cache on Redis, with its connections and client shared by the whole process, and
`count`, a counter that expires, in one round trip.

Django makes a cache object for each request context, and with it a new Redis connection pool: under
ASGI every request therefore connected to Redis again (the API's rate limit reads and writes the cache
on each request), and every cache call built a new Redis client. `RedisCache` hands every cache object
of a process the same pool and client for each address.
"""

import threading
import time

import redis
from django.core.cache import caches
from django.core.cache.backends import redis as django_redis


class ProcessConnectionPool(redis.ConnectionPool):
    """One pool per process, address and options."""

    _pools: dict = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url, **kwargs):
        key = (url, tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        with cls._lock:
            pool = cls._pools.get(key)
            if pool is None:
                # redis-py makes a forked process's pool start afresh (it checks the process id).
                pool = cls._pools[key] = super().from_url(url, **kwargs)
        return pool


_clients: dict[redis.ConnectionPool, redis.Redis] = {}


class RedisCacheClient(django_redis.RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = _clients.get(pool)
        if client is None:
            # A Redis client is thread-safe: it takes a connection from the pool for each command.
            client = _clients.setdefault(pool, self._client(connection_pool=pool))
        return client


class RedisCache(django_redis.RedisCache):
    """`BACKEND` of the cache when `REDIS_URL` is set."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
        self._options = {"pool_class": ProcessConnectionPool, **self._options}

    def count(self, key: str, timeout: int) -> tuple[int, float]:
        """See `count`: INCR, EXPIRE NX and TTL, pipelined."""
        key = self.make_and_validate_key(key)
        with self._cache.get_client(key, write=True).pipeline(transaction=False) as pipeline:
            pipeline.incr(key)
            pipeline.expire(key, timeout, nx=True)
            pipeline.ttl(key)
            total, _set, seconds_left = pipeline.execute()
        return total, max(seconds_left, 0)


def count(key: str, timeout: int) -> tuple[int, float]:
    """Add one to the counter `key`, which lives `timeout` seconds from its first count; returns the
    new total and the seconds it has left. On Redis one round trip, whatever the total."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        return cache.count(key, timeout)
    now = time.time()
    cache.add(f"{key}:start", now, timeout)
    started = cache.get(f"{key}:start", now)
    cache.add(key, 0, timeout)
    try:
        total = cache.incr(key)
    except ValueError:  # it expired between the two calls
        cache.set(key, total := 1, timeout)
    return total, max(started + timeout - now, 0)
