"""The built-in mail receiver for companies that run their own mail server: an aiosmtpd SMTP or LMTP
server that their server forwards the reply domain to. Each mail goes to the same service as the ESP
webhook; a mail that matches no conversation is refused with 550 so the sending server tells its
author, and a robot's mail is accepted and dropped (a bounce to a robot would start a loop)."""

import logging
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

from helpdesk.errors import ServiceError

from .services import inbound_email_receive

logger = logging.getLogger(__name__)

# Bigger than the attachment limit: a mail whose attachment is too large to keep is still received,
# and the attachment is listed in the message.
MAX_MAIL_BYTES = 50 * 1024 * 1024


def _receive(content: bytes, recipients: list[str], sender: str) -> str:
    close_old_connections()
    try:
        mail = message_from_bytes(content, policy=policy.default)
        inbound_email_receive(mail=mail, envelope_recipients=recipients, envelope_sender=sender)
    except ServiceError as refusal:
        return f"550 5.1.1 {refusal.message}"
    except Exception:
        logger.exception("Could not store an inbound email")
        return "451 4.3.0 Temporary failure, try again later"
    finally:
        # The worker thread may sit idle for hours: do not leave it holding a database connection.
        connections.close_all()
    return "250 2.0.0 OK"


class InboundMailHandler:
    """aiosmtpd handler: the Django work runs in a thread, off the server's event loop."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", errors="surrogateescape")
        return await sync_to_async(_receive, thread_sensitive=False)(
            content, list(envelope.rcpt_tos), envelope.mail_from or ""
        )


class ReceiverController(Controller):
    """An SMTP (or, with lmtp=True, LMTP) server in a thread of its own."""

    def __init__(self, *, hostname: str, port: int, lmtp: bool = False, **kwargs):
        self.lmtp = lmtp
        super().__init__(InboundMailHandler(), hostname=hostname, port=port, data_size_limit=MAX_MAIL_BYTES, **kwargs)

    def factory(self):
        return (LMTP if self.lmtp else SMTP)(self.handler, **self.SMTP_kwargs)
