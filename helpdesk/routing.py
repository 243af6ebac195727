"""Websocket routes; each consumer checks its own Origin and authentication. Only the dashboard's
socket reads the session: a chat box has no login, and skipping the cookie, session and user
wrappers saves memory on each of the thousands of visitor sockets a process holds."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from conversations.consumers import AgentConsumer, VisitorConsumer

websocket_urlpatterns = [
    path("ws/visitor/", VisitorConsumer.as_asgi()),
    path("ws/agent/", AuthMiddlewareStack(AgentConsumer.as_asgi())),
]
