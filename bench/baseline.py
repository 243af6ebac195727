"""The baseline of the chat load benchmark: a bare Channels group-broadcast consumer.

It does what the helpdesk's fan-out does, and nothing else: no database, no masking, no presence. A
"visitor" socket (path /visitor/<n>/) joins its own room; an "agent" socket (/agent/) joins the room
of the agents' inboxes. Every message, the visitor's and the agent's reply, goes to the visitor's room
and to the inboxes, as the helpdesk sends each to the visitor's chat boxes and to every dashboard whose
inbox lists the conversation (all of the benchmark's agents have full access). Served by uvicorn on
the same channel layer as the helpdesk, so the ratio of the two is what the helpdesk's own work costs.
"""

import json
import os

import django
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import URLRouter
from django.urls import path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
django.setup()

AGENTS = "agents"


class VisitorRoom(AsyncWebsocketConsumer):
    async def connect(self):
        self.room = f"room-{self.scope['url_route']['kwargs']['number']}"
        await self.channel_layer.group_add(self.room, self.channel_name)
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        frame = json.loads(text_data)
        out = {
            "type": "chat.frame",
            "text": json.dumps({"type": "message.created", "body": frame["body"], "room": self.room}),
        }
        await self.channel_layer.group_send(AGENTS, out)
        await self.channel_layer.group_send(self.room, out)
        await self.send(text_data=json.dumps({"type": "message.ack", "client_id": frame["client_id"]}))

    async def chat_frame(self, event):
        await self.send(text_data=event["text"])

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.room, self.channel_name)


class Agent(AsyncWebsocketConsumer):
    async def connect(self):
        await self.channel_layer.group_add(AGENTS, self.channel_name)
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        frame = json.loads(text_data)
        out = {"type": "chat.frame", "text": json.dumps({"type": "message.created", "body": frame["body"]})}
        await self.channel_layer.group_send(AGENTS, out)
        await self.channel_layer.group_send(f"room-{frame['room']}", out)
        await self.send(text_data=json.dumps({"type": "message.ack", "client_id": frame["client_id"]}))

    async def chat_frame(self, event):
        await self.send(text_data=event["text"])

    async def disconnect(self, code):
        await self.channel_layer.group_discard(AGENTS, self.channel_name)


application = URLRouter(
    [
        path("visitor/<int:number>/", VisitorRoom.as_asgi()),
        path("agent/", Agent.as_asgi()),
    ]
)
