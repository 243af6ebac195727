"""What /healthz checks: each dependency answers, or says why not."""

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


async def _round_trip(layer) -> bool:
    channel = await layer.new_channel("healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz.ping", "token": token})
    reply = await layer.receive(channel)
    return reply.get("token") == token


def check_channel_layer() -> str | None:
    layer = get_channel_layer()
    if layer is None:
        return "no channel layer is configured"
    try:
        if not async_to_sync(_round_trip)(layer):
            return "a message sent through the layer came back changed"
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None
