"""HTTP requests (dashboard pages, the REST API, webhooks) through Django's WSGI handler, each in one
thread of a bounded pool: a2wsgi carries them between uvicorn's event loop and the pool.

Django's own ASGI handler starts a new thread for every request (its ThreadSensitiveContext) and, as
one middleware (WhiteNoise) runs only synchronously, crosses between that thread and the event loop
four times around the view. Here a request is handed once to a thread that is kept, and its response
comes back to the loop as it is written. A search through the API took 9.0-10.4 ms of server CPU
instead of 11.6-12.7 (no filter, five runs of each, alternating, on bench/search.py's database), and
10% fewer instructions (callgrind). The pool also bounds how many requests use a database connection
at once (`HTTP_THREADS`; the database pool's default size counts them).

In a request's thread, `async_to_sync` (the live fan-out of events, `conversations.realtime`) runs on
uvicorn's event loop, as it does under Django's ASGI handler: the channel layer's connections belong to
that loop, and the in-memory layer's queues to the loop whose sockets wait on them. Without that,
each call would make an event loop of its own.

A response waits in memory for the client, not in its thread: a2wsgi's queue of response chunks has no
bound here, as Django's ASGI handler reads a file response whole before sending it. With a bound, a
client that stops reading a download or a large static file would keep a thread until it reads again,
and a few such clients would hold every thread of the process.

A request's body is read whole in the event loop before the request gets a thread, as Django's ASGI
handler reads it (in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, on disk beyond): a client that sends its
body slowly keeps no thread waiting. It is handed on with its length, which WSGI needs (Django reads as
many bytes as Content-Length says), also when the client sent it in chunks without one.
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
_CHUNK_BYTES = 64 * 1024

_server_loop: contextvars.ContextVar[asyncio.AbstractEventLoop] = contextvars.ContextVar("server_loop")


class _DjangoInThreads(WSGIMiddleware):
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        # Each request's thread runs in a copy of this context, so it finds the loop here.
        _server_loop.set(asyncio.get_running_loop())
        body = await _read_whole(receive)
        if body is None:
            return  # the client went away before the end of its request
        with body:
            await super().__call__(_with_length(scope, body), _reader(body), send)


async def _read_whole(receive):
    # The caller closes it once the request is answered.
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


def _with_length(scope, body) -> dict:
    """The scope of the request whose body has been read: its length known, sent in one piece. Header
    names with an underscore are left out, as Django's ASGI handler leaves them out: in WSGI's environ
    `X_Forwarded_Proto` and `X-Forwarded-Proto` would be one header, and a client could spoof a proxy's."""
    length = body.seek(0, os.SEEK_END)
    body.seek(0)
    headers = [
        (name, value)
        for name, value in scope["headers"]
        if name not in (b"content-length", b"transfer-encoding") and b"_" not in name
    ]
    return {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}


def _reader(body):
    async def receive():
        chunk = body.read(_CHUNK_BYTES)
        return {"type": "http.request", "body": chunk, "more_body": len(chunk) == _CHUNK_BYTES}

    return receive


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
