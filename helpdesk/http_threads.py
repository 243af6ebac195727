"""HTTP requests (dashboard pages, the REST API, webhooks) through Django's WSGI handler, each in one
thread of a bounded pool: a2wsgi carries them between uvicorn's event loop and the pool.

Django's own ASGI handler starts a new thread for every request (its ThreadSensitiveContext) and, as
one middleware (WhiteNoise) runs only synchronously, crosses between that thread and the event loop
four times around the view. Here a request is handed once to a thread that is kept, and its response
comes back to the loop as it is written. A search through the API took 9.0-10.4 ms of server CPU
instead of 11.6-12.7 (no filter, five runs of each, alternating, on bench/search.py's database), and
10% fewer instructions (callgrind). The pool also bounds how many requests use a database connection
at once: `HTTP_THREADS` plus the websockets' `DATABASE_THREADS` fit the pool of `DATABASE_POOL_SIZE`.

In a request's thread, `async_to_sync` (the live fan-out of events, `conversations.realtime`) runs on
uvicorn's event loop, as it does under Django's ASGI handler: the channel layer's connections belong to
that loop, and the in-memory layer's queues to the loop whose sockets wait on them. Without that,
each call would make an event loop of its own.

A response waits in memory for the client, not in its thread: a2wsgi's queue of response chunks has no
bound here, as Django's ASGI handler reads a file response whole before sending it. With a bound, a
client that stops reading a download or a large static file would keep a thread until it reads again,
and a few such clients would hold every thread of the process.

A WSGI request body needs its length (Django reads as many bytes as Content-Length says): a body sent
in chunks without one is first read whole, as Django's ASGI handler reads every body, in memory up
to FILE_UPLOAD_MAX_MEMORY_SIZE and on disk beyond, and then handed on with its length.
"""

import asyncio
import contextvars
import os
import tempfile

from a2wsgi import WSGIMiddleware
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.core.wsgi import get_wsgi_application

UNBOUNDED = 0  # asyncio.Queue's maxsize for no bound

_server_loop: contextvars.ContextVar[asyncio.AbstractEventLoop] = contextvars.ContextVar("server_loop")


class _DjangoInThreads(WSGIMiddleware):
    async def __call__(self, scope, receive, send):
        # Each request's thread runs in a copy of this context, so it finds the loop here.
        _server_loop.set(asyncio.get_running_loop())
        if scope["type"] == "http" and _is_chunked(scope):
            body = await _read_whole(receive)
            if body is None:
                return  # the client went away before the end of its request
            scope, receive = _with_length(scope, body)
        await super().__call__(scope, receive, send)


def _is_chunked(scope) -> bool:
    names = {name for name, _value in scope["headers"]}
    return b"transfer-encoding" in names and b"content-length" not in names


async def _read_whole(receive):
    # Closed once its last chunk is handed on (`_with_length`), or at a disconnect.
    body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            body.close()
            return None
        body.write(message.get("body", b""))
        if not message.get("more_body", False):
            body.seek(0)
            return body


def _with_length(scope, body):
    length = body.seek(0, os.SEEK_END)
    body.seek(0)
    headers = [(name, value) for name, value in scope["headers"] if name != b"transfer-encoding"]
    scope = {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}
    chunk_size = 64 * 1024

    async def receive():
        chunk = body.read(chunk_size)
        more = body.tell() < length
        if not more:
            body.close()
        return {"type": "http.request", "body": chunk, "more_body": more}

    return scope, receive


def _on_server_loop(wsgi_app):
    def app(environ, start_response):
        # What asgiref's own threads carry (SyncToAsync.thread_handler), so async_to_sync finds the loop.
        SyncToAsync.threadlocal.main_event_loop = _server_loop.get()
        SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
        return wsgi_app(environ, start_response)

    return app


def http_application():
    """The ASGI application for HTTP."""
    return _DjangoInThreads(
        _on_server_loop(get_wsgi_application()), workers=settings.HTTP_THREADS, send_queue_size=UNBOUNDED
    )
