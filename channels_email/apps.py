from django.apps import AppConfig


class ChannelsEmailConfig(AppConfig):
    name = "channels_email"
    verbose_name = "Email channel"

    def ready(self):
        from anymail.signals import inbound

        from conversations.events import register_deliverer, register_message_files, register_reply_check
        from conversations.models import Channel

        from . import webhooks
        from .permissions import why_cannot_reply_by_email
        from .selectors import email_attachment_files
        from .tasks import send_email_reply

        register_deliverer(Channel.EMAIL, lambda message_id: send_email_reply.delay(message_id))
        # Consulted before a reply is stored (the socket's `channel: "email"` too), and by the composer.
        register_reply_check(Channel.EMAIL, why_cannot_reply_by_email)
        # The thread links each email's kept attachments, opened by agents who may see the conversation.
        register_message_files(email_attachment_files)
        inbound.connect(webhooks.anymail_inbound_received, dispatch_uid="channels_email.inbound")
