from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"

    def ready(self):
        from visitors.selectors import register_card_reader

        from . import realtime  # noqa: F401  (subscribes the live fan-out to the event hub)
        from .selectors import visitor_card_conversations

        register_card_reader(visitor_card_conversations)
