from django.apps import AppConfig


class ChannelsFbConfig(AppConfig):
    name = "channels_fb"
    verbose_name = "Facebook Messenger"

    def ready(self) -> None:
        from conversations.events import register_deliverer
        from conversations.models import Channel

        from .tasks import send_message

        # Called after commit for every agent reply on a Messenger conversation.
        register_deliverer(Channel.MESSENGER, lambda message_id: send_message.delay(message_id))
