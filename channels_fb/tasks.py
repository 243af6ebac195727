"""Celery adapters: they take ids, re-check state through the services, and retry what may pass."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext as _

from conversations.models import Message

from . import services
from .graph import GraphClient, GraphError
from .models import MessengerContact, WebhookDelivery

logger = logging.getLogger(__name__)


def _backoff(retries: int) -> int:
    return settings.FACEBOOK_RETRY_BACKOFF * 2**retries


# A database hiccup must not leave a stored delivery unprocessed; each event is idempotent, so a rerun is safe.
@shared_task(ignore_result=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=5, max_retries=5)
def process_webhook_delivery(delivery_id: int) -> None:
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is not None:
        services.webhook_delivery_process(delivery=delivery)


@shared_task(ignore_result=True)
def purge_webhook_deliveries() -> None:
    deleted = services.webhook_deliveries_purge(older_than=timedelta(days=settings.FACEBOOK_WEBHOOK_KEEP_DAYS))
    logger.info("Deleted %d processed Messenger webhook deliveries.", deleted)


@shared_task(bind=True, ignore_result=True)
def send_message(self, message_id: int) -> None:
    """Deliver an agent's reply on Messenger, retrying rate limits and temporary errors with backoff."""
    try:
        services.reply_deliver(message_id=message_id)
    except GraphError as error:
        retries = self.request.retries
        if retries >= settings.FACEBOOK_SEND_MAX_RETRIES:
            message = Message.objects.filter(pk=message_id).first()
            if message is None:
                return
            reason = _("Facebook did not take the reply after %(tries)d tries: %(reason)s") % {
                "tries": retries + 1,
                "reason": error.message,
            }
            services.reply_fail(message=message, reason=reason)
            return
        logger.info("Messenger reply %s will be tried again: %s", message_id, error)
        raise self.retry(
            exc=error, countdown=_backoff(retries), max_retries=settings.FACEBOOK_SEND_MAX_RETRIES
        ) from error


@shared_task(bind=True, ignore_result=True)
def fetch_profile(self, contact_id: int) -> None:
    """Name a new Messenger visitor from their profile; Facebook refusing it is normal."""
    contact = MessengerContact.objects.select_related("page").filter(pk=contact_id).first()
    if contact is None or contact.profile_checked_at is not None:
        return
    page = contact.page
    client = GraphClient(page_id=page.page_id, access_token=page.access_token, app_secret=page.app_secret)
    try:
        profile = client.user_profile(psid=contact.psid)
    except GraphError as error:
        if error.is_retryable and self.request.retries < settings.FACEBOOK_SEND_MAX_RETRIES:
            raise self.retry(
                exc=error, countdown=_backoff(self.request.retries), max_retries=settings.FACEBOOK_SEND_MAX_RETRIES
            ) from error
        if error.token_expired:
            services.facebook_page_token_expired(page=page)
        logger.info("Facebook did not give the profile of %s on page %s: %s", contact.psid, page.page_id, error)
        profile = {}
    services.messenger_contact_set_profile(
        contact=contact,
        first_name=str(profile.get("first_name") or ""),
        last_name=str(profile.get("last_name") or ""),
    )
