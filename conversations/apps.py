from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"

    def ready(self):
        from . import realtime  # noqa: F401  (subscribes the live fan-out to the event hub)
