"""Database work from websocket consumers, on a bounded pool of threads.

Channels' `database_sync_to_async` is thread-sensitive by default, and its consumers run in no
thread-sensitive context, so every socket of a process shares one thread: one visitor's database
round trips wait behind every other socket's, and a process stores at most one message at a time.
Here the work runs on a pool of `DATABASE_THREADS` threads. Each call runs in a copy of the socket's
context, as Channels runs it, so it takes a connection from the process's pool (PostgreSQL) and gives it
back when it ends: the threads bound how many connections the sockets use at once.
A chat box handles its frames one after another; a dashboard runs its frames side by side, each
conversation's in order (`conversations.consumers.Lanes`). Row locks order concurrent changes to one
conversation, as they already must across processes. Few threads: they share the interpreter lock with
the event loop (`DATABASE_THREADS`).
"""

from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async
from django.conf import settings

_executor = ThreadPoolExecutor(max_workers=settings.DATABASE_THREADS, thread_name_prefix="database")


def db(func):
    """`await db(func)(*args)`: run `func` on the database threads, with Django's connection upkeep
    (stale connections closed before and after) as `database_sync_to_async` does."""
    return database_sync_to_async(func, thread_sensitive=False, executor=_executor)
