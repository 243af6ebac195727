"""HTTP through the real ASGI application: Django on the pool of request threads (helpdesk.http_threads)."""

import asyncio
import json

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from conversations import realtime
from conversations.models import Conversation

from ..factories import ConversationFactory, TagFactory, api_client_for

pytestmark = pytest.mark.django_db(transaction=True)


def http_client(key: str) -> httpx.AsyncClient:
    from helpdesk.asgi import application

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application, client=("203.0.113.9", 50000)),
        base_url="http://localhost",
        headers={"Authorization": f"Bearer {key}"},
    )


@sync_to_async
def conversation_and_key(full_agent):
    conversation = ConversationFactory()
    client = api_client_for(full_agent)
    return conversation, client._credentials["HTTP_AUTHORIZATION"].removeprefix("Bearer ")


async def test_an_action_over_http_reaches_the_dashboards_live(full_agent, monkeypatch):
    """The request runs in a thread of the pool; its event's fan-out reaches the dashboards live: on
    Redis sent from that thread, in memory on the server's loop, where the sockets' layer lives
    (another loop's send would reach no waiting socket)."""
    conversation, key = await conversation_and_key(full_agent)
    layer = get_channel_layer()
    dashboard = await layer.new_channel()
    await layer.group_add(realtime.INBOX_FULL, dashboard)
    loops = []
    send = realtime.asend_to_groups

    async def recording_send(*deliveries):
        loops.append(asyncio.get_running_loop())
        await send(*deliveries)

    monkeypatch.setattr(realtime, "asend_to_groups", recording_send)

    async with http_client(key) as client:
        response = await client.post(f"/api/v1/conversations/{conversation.pk}/resolve/")

    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    event = await asyncio.wait_for(layer.receive(dashboard), timeout=2)
    frame = json.loads(event["text"])
    assert frame["type"] == "conversation.resolved"
    assert frame["conversation"]["id"] == conversation.pk
    in_memory = not hasattr(layer, "group_send_all_blocking")
    assert loops == ([asyncio.get_running_loop()] if in_memory else [])


async def test_a_body_sent_in_chunks_without_a_length_is_read_whole(full_agent):
    conversation, key = await conversation_and_key(full_agent)
    await sync_to_async(TagFactory)(name="refund")

    async def chunks():
        body = json.dumps({"name": "refund"}).encode()
        for start in range(0, len(body), 5):
            yield body[start : start + 5]

    async with http_client(key) as client:
        response = await client.post(
            f"/api/v1/conversations/{conversation.pk}/tags/",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )

    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 200, response.content
    assert [tag["name"] for tag in response.json()["tags"]] == ["refund"]
    tags = await sync_to_async(lambda: list(Conversation.objects.get(pk=conversation.pk).tags.values_list("name")))()
    assert tags == [("refund",)]


@sync_to_async
def emailed_attachment(size: int) -> str:
    from channels_email.addresses import reply_address
    from channels_email.models import EmailAttachment
    from channels_email.services import inbound_email_receive
    from conversations.models import Channel

    from ..channels_email.conftest import write_mail

    conversation = ConversationFactory(channel=Channel.EMAIL, visitor__email="vera@example.com")
    mail = write_mail(to=reply_address(conversation.pk), body="The photos.")
    mail.add_attachment(b"x" * size, maintype="application", subtype="zip", filename="photos.zip")
    inbound_email_receive(mail=mail)
    return f"/api/v1/conversations/{conversation.pk}/attachments/{EmailAttachment.objects.get().pk}/"


def request_scope(path: str, key: str) -> dict:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"authorization", f"Bearer {key}".encode())],
        "client": ("203.0.113.9", 50000),
        "server": ("localhost", 80),
    }


async def test_a_client_sending_its_body_slowly_holds_no_thread(full_agent, settings):
    """With one thread, a request whose body is still on its way must not keep the next one waiting."""
    from helpdesk.http_threads import http_application

    settings.HTTP_THREADS = 1
    app = http_application()
    conversation, key = await conversation_and_key(full_agent)
    started = asyncio.Event()

    async def body_that_never_ends():
        if started.is_set():
            await asyncio.Event().wait()
        started.set()
        return {"type": "http.request", "body": b'{"name": "re', "more_body": True}

    async def nobody(message):
        pass

    scope = request_scope(f"/api/v1/conversations/{conversation.pk}/tags/", key) | {"method": "POST"}
    upload = asyncio.create_task(app(scope, body_that_never_ends, nobody))
    await asyncio.wait_for(started.wait(), timeout=5)
    answered = []

    async def client(message):
        answered.append(message)

    async def request_sent():
        return {"type": "http.request", "body": b"", "more_body": False}

    try:
        await asyncio.wait_for(app(request_scope("/api/v1/tags/", key), request_sent, client), timeout=5)
    finally:
        upload.cancel()

    assert answered[0]["status"] == 200


async def test_a_client_that_stops_reading_a_download_holds_no_thread(full_agent, settings, tmp_path):
    """With one thread, a download whose client stopped reading must not keep the next request waiting."""
    from helpdesk.http_threads import http_application

    settings.MEDIA_ROOT = tmp_path
    settings.HTTP_THREADS = 1
    app = http_application()
    _conversation, key = await conversation_and_key(full_agent)
    download_path = await emailed_attachment(size=2 * 1024 * 1024)
    stalled = asyncio.Event()

    async def request_sent():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def client_that_stops_reading(message):
        if message["type"] == "http.response.body" and message.get("more_body"):
            stalled.set()
            await asyncio.Event().wait()  # never reads on

    download = asyncio.create_task(app(request_scope(download_path, key), request_sent, client_that_stops_reading))
    await asyncio.wait_for(stalled.wait(), timeout=5)
    answered = []

    async def client(message):
        answered.append(message)

    try:
        await asyncio.wait_for(app(request_scope("/api/v1/tags/", key), request_sent, client), timeout=5)
    finally:
        download.cancel()

    assert answered[0]["status"] == 200


async def test_a_header_name_with_an_underscore_cannot_pass_for_a_proxys_header(full_agent, settings):
    """As under Django's ASGI handler: `X_Forwarded_Proto` never becomes the proxy's `X-Forwarded-Proto`."""
    from helpdesk.http_threads import http_application

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    app = http_application()
    answered = []

    async def client(message):
        answered.append(message)

    async def request_sent():
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = request_scope("/healthz", "")
    spoofed = scope | {"headers": [*scope["headers"], (b"x_forwarded_proto", b"https")]}
    proxied = scope | {"headers": [*scope["headers"], (b"x-forwarded-proto", b"https")]}
    await app(spoofed, request_sent, client)
    await app(proxied, request_sent, client)

    assert [message["status"] for message in answered if message["type"] == "http.response.start"] == [301, 200]
