from django.apps import AppConfig


class ChannelsFbConfig(AppConfig):
    name = "channels_fb"
    verbose_name = "Facebook Messenger"

    def ready(self) -> None:
        from conversations.events import register_deliverer, register_reply_check
        from conversations.models import Channel

        from .permissions import why_cannot_reply_on_messenger
        from .tasks import send_message

        # Called after commit for every agent reply on a Messenger conversation.
        register_deliverer(Channel.MESSENGER, lambda message_id: send_message.delay(message_id))
        # Consulted before a reply is stored, and by the composer before the agent writes one.
        register_reply_check(Channel.MESSENGER, why_cannot_reply_on_messenger)
