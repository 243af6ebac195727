"""The Django cache's Redis connections, shared by the whole process.

Django makes a cache object for each request context, and with it a new Redis connection pool: under
ASGI every request therefore connected to Redis again (the API's rate limit reads and writes the cache
on each request). `ProcessConnectionPool` hands every cache object of a process the same pool.
"""

import threading

import redis


class ProcessConnectionPool(redis.ConnectionPool):
    """`OPTIONS["pool_class"]` of the Redis cache: one pool per process, address and options."""

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
