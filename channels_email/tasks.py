"""Sending agents' email replies in the background, with retries."""

import logging
import smtplib

from celery import shared_task

from conversations.models import Message
from helpdesk.errors import ServiceError

from . import services

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


def is_permanent(error: Exception) -> bool:
    """A refusal that sending again will not change: the server said 5xx, or the recipient is refused."""
    if isinstance(error, ServiceError | smtplib.SMTPRecipientsRefused):
        return True
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    try:  # an ESP through django-anymail
        from anymail.exceptions import AnymailRecipientsRefused
    except ImportError:  # pragma: no cover - anymail is a requirement
        return False
    return isinstance(error, AnymailRecipientsRefused)


def _reason(error: Exception) -> str:
    if isinstance(error, ServiceError):
        return error.message
    if isinstance(error, smtplib.SMTPResponseException):
        detail = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return f"{error.smtp_code} {detail}"
    return str(error) or error.__class__.__name__


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def send_email_reply(self, message_id: int) -> None:
    """Send one agent reply by email; safe to run twice (a message no longer pending is skipped)."""
    message = Message.objects.filter(pk=message_id).first()
    if message is None or message.delivery_status != Message.Delivery.PENDING:
        return
    try:
        services.email_reply_send(message=message)
    except Exception as error:
        if is_permanent(error) or self.request.retries >= self.max_retries:
            logger.warning("Email reply %s failed: %s", message_id, _reason(error))
            services.email_reply_fail(message=message, reason=_reason(error))
            return
        # 30 s, 1, 2, 4, 8 minutes: rides out a mail server restart without hammering it.
        raise self.retry(exc=error, countdown=30 * 2**self.request.retries) from error
