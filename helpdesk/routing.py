"""Websocket routes of every app; each app's consumers check their own Origin and authentication."""

websocket_urlpatterns: list = []
