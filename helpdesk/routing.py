"""Websocket routes; each consumer checks its own Origin and authentication."""

from django.urls import path

from conversations.consumers import AgentConsumer, VisitorConsumer

websocket_urlpatterns = [
    path("ws/visitor/", VisitorConsumer.as_asgi()),
    path("ws/agent/", AgentConsumer.as_asgi()),
]
