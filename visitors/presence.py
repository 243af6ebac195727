"""Which visitors are on the website right now.

Every open chat box is a connection that sends heartbeats; a connection counts until its heartbeat
expires, so a server process that dies takes its visitors offline within `VISITOR_PRESENCE_TTL`
seconds without anyone cleaning up after it. With Redis the state is shared by every server process;
the embedded default keeps it in this process's memory.
"""

import threading
import time
from functools import cache

from django.conf import settings

ONLINE, IDLE, LEFT = "online", "idle", "left"


class MemoryPresence:
    def __init__(self):
        self._lock = threading.Lock()
        self._connections: dict[int, dict[str, float]] = {}
        # visitor -> when they were last there: their latest heartbeat's expiry, or when their last box closed
        self._seen: dict[int, float] = {}
        self._activity: dict[int, float] = {}

    def _live(self, visitor_id: int, now: float) -> dict[str, float]:
        live = {name: expiry for name, expiry in self._connections.get(visitor_id, {}).items() if expiry > now}
        self._connections[visitor_id] = live
        return live

    def connect(self, visitor_id: int, connection: str, *, now: float | None = None) -> None:
        """Also the heartbeat: the connection counts for another TTL from now."""
        now = now or time.time()
        expiry = now + settings.VISITOR_PRESENCE_TTL
        with self._lock:
            self._connections.setdefault(visitor_id, {})[connection] = expiry
            self._seen[visitor_id] = max(self._seen.get(visitor_id, 0), expiry)

    def disconnect(self, visitor_id: int, connection: str, *, now: float | None = None) -> int:
        """Close one connection; returns how many the visitor still has."""
        now = now or time.time()
        with self._lock:
            self._connections.get(visitor_id, {}).pop(connection, None)
            remaining = len(self._live(visitor_id, now))
            if not remaining and visitor_id in self._seen:
                self._seen[visitor_id] = now
            return remaining

    def connection_count(self, visitor_id: int, *, now: float | None = None) -> int:
        with self._lock:
            return len(self._live(visitor_id, now or time.time()))

    def touch(self, visitor_id: int, *, now: float | None = None) -> None:
        """The visitor did something (opened a page, wrote, typed)."""
        with self._lock:
            self._activity[visitor_id] = now or time.time()

    def last_activity(self, visitor_id: int) -> float | None:
        with self._lock:
            return self._activity.get(visitor_id)

    def has_departed(self, visitor_id: int, *, before: float, now: float | None = None) -> bool:
        """The visitor has no live connection and was last there before `before`."""
        now = now or time.time()
        with self._lock:
            seen = self._seen.get(visitor_id)
            return seen is not None and seen <= before and not self._live(visitor_id, now)

    def departed(self, *, before: float, now: float | None = None) -> list[int]:
        """Visitors with no live connection who were last there before `before`."""
        now = now or time.time()
        with self._lock:
            return [vid for vid, seen in self._seen.items() if seen <= before and not self._live(vid, now)]

    def snapshot(self, visitor_ids, *, now: float) -> dict[int, tuple[int, float | None]]:
        """Live connection count and last activity of each visitor, at once."""
        with self._lock:
            return {vid: (len(self._live(vid, now)), self._activity.get(vid)) for vid in visitor_ids}

    def forget(self, visitor_id: int) -> bool:
        """Drop the visitor's record; True if there was one (so only one caller settles a departure)."""
        with self._lock:
            self._connections.pop(visitor_id, None)
            self._activity.pop(visitor_id, None)
            return self._seen.pop(visitor_id, None) is not None


class RedisPresence:
    """The same in Redis: a sorted set of connections per visitor scored by their expiry, and a sorted
    set of visitors scored by when they were last there, for the sweep that settles departures even
    when the process that served them died."""

    def __init__(self, url: str, prefix: str = "helpdesk:presence"):
        import redis

        self._redis = redis.Redis.from_url(url)
        self._prefix = prefix
        self._seen = f"{prefix}:seen"

    def _key(self, visitor_id: int) -> str:
        return f"{self._prefix}:visitor:{visitor_id}"

    def connect(self, visitor_id: int, connection: str, *, now: float | None = None) -> None:
        now = now or time.time()
        expiry = now + settings.VISITOR_PRESENCE_TTL
        key = self._key(visitor_id)
        pipe = self._redis.pipeline()
        pipe.zadd(key, {connection: expiry})
        pipe.expire(key, settings.VISITOR_PRESENCE_TTL * 2)
        pipe.zadd(self._seen, {str(visitor_id): expiry}, gt=True)
        pipe.execute()

    def disconnect(self, visitor_id: int, connection: str, *, now: float | None = None) -> int:
        now = now or time.time()
        key = self._key(visitor_id)
        pipe = self._redis.pipeline()
        pipe.zrem(key, connection)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zcard(key)
        remaining = pipe.execute()[2]
        if not remaining:
            self._redis.zadd(self._seen, {str(visitor_id): now}, xx=True)
        return remaining

    def connection_count(self, visitor_id: int, *, now: float | None = None) -> int:
        now = now or time.time()
        pipe = self._redis.pipeline()
        pipe.zremrangebyscore(self._key(visitor_id), "-inf", now)
        pipe.zcard(self._key(visitor_id))
        return pipe.execute()[1]

    def touch(self, visitor_id: int, *, now: float | None = None) -> None:
        self._redis.set(f"{self._key(visitor_id)}:activity", now or time.time(), ex=settings.VISITOR_IDLE_AFTER * 2)

    def last_activity(self, visitor_id: int) -> float | None:
        value = self._redis.get(f"{self._key(visitor_id)}:activity")
        return float(value) if value is not None else None

    def has_departed(self, visitor_id: int, *, before: float, now: float | None = None) -> bool:
        seen = self._redis.zscore(self._seen, str(visitor_id))
        return seen is not None and seen <= before and not self.connection_count(visitor_id, now=now)

    def departed(self, *, before: float, now: float | None = None) -> list[int]:
        candidates = [int(member) for member in self._redis.zrangebyscore(self._seen, "-inf", before)]
        return [vid for vid in candidates if not self.connection_count(vid, now=now)]

    def snapshot(self, visitor_ids, *, now: float) -> dict[int, tuple[int, float | None]]:
        """Live connection count and last activity of each visitor, in one round trip."""
        visitor_ids = list(visitor_ids)
        pipe = self._redis.pipeline(transaction=False)
        for vid in visitor_ids:
            pipe.zcount(self._key(vid), f"({now}", "+inf")
            pipe.get(f"{self._key(vid)}:activity")
        answers = pipe.execute()
        return {
            vid: (answers[2 * i], float(answers[2 * i + 1]) if answers[2 * i + 1] is not None else None)
            for i, vid in enumerate(visitor_ids)
        }

    def forget(self, visitor_id: int) -> bool:
        pipe = self._redis.pipeline()
        pipe.zrem(self._seen, str(visitor_id))
        pipe.delete(self._key(visitor_id), f"{self._key(visitor_id)}:activity")
        return bool(pipe.execute()[0])


@cache
def presence() -> MemoryPresence | RedisPresence:
    return RedisPresence(settings.REDIS_URL) if settings.REDIS_URL else MemoryPresence()


def _state(connections: int, last_activity: float | None, now: float) -> str:
    if not connections:
        return LEFT
    if last_activity is None or now - last_activity > settings.VISITOR_IDLE_AFTER:
        return IDLE
    return ONLINE


def visitor_state(visitor_id: int, *, now: float | None = None) -> str:
    """online, idle (connected but nothing done for VISITOR_IDLE_AFTER), or left."""
    now = now or time.time()
    store = presence()
    if not store.connection_count(visitor_id, now=now):
        return LEFT
    return _state(1, store.last_activity(visitor_id), now)


def visitor_states(visitor_ids, *, now: float | None = None) -> dict[int, str]:
    """The state of many visitors at once (an inbox page): one Redis round trip, not one per visitor."""
    now = now or time.time()
    ids = list(dict.fromkeys(visitor_ids))
    if not ids:
        return {}
    return {vid: _state(count, last, now) for vid, (count, last) in presence().snapshot(ids, now=now).items()}
