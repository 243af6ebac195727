from django.apps import AppConfig


class ChannelsEmailConfig(AppConfig):
    name = "channels_email"
    verbose_name = "Email channel"

    def ready(self):
        from anymail.signals import inbound

        from conversations.events import register_deliverer
        from conversations.models import Channel

        from . import webhooks
        from .tasks import send_email_reply

        register_deliverer(Channel.EMAIL, lambda message_id: send_email_reply.delay(message_id))
        inbound.connect(webhooks.anymail_inbound_received, dispatch_uid="channels_email.inbound")
