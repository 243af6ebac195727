"""Background work: delivering webhooks, sending notification emails, the sweep for lost checks."""

import time

import httpx
from celery import shared_task

from . import services, webhook_services, webhooks
from .models import WebhookDelivery


class WebhookNotDelivered(Exception):
    pass


@shared_task(bind=True, max_retries=None, acks_late=True)
def deliver_webhook(self, delivery_id: int) -> None:
    """POST one delivery; on a failure try again later, with exponential backoff, until it is
    delivered or out of attempts. Safe to run twice: a delivery no longer pending is left alone."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        webhook_services.webhook_delivery_abandon(delivery=delivery, reason="The webhook was switched off.")
        return
    started = time.monotonic()
    try:
        response = webhooks.post(url=endpoint.url, secret=endpoint.secret, delivery=delivery)
        status_code, body, error = response.status_code, response.text, ""
    except httpx.HTTPError as exc:
        status_code, body, error = None, "", f"{type(exc).__name__}: {exc}"
    delivery = webhook_services.webhook_attempt_record(
        delivery=delivery,
        status_code=status_code,
        response_body=body,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    if delivery.status == WebhookDelivery.Status.PENDING:
        raise self.retry(
            exc=WebhookNotDelivered(error or f"HTTP {status_code}"),
            countdown=webhook_services.webhook_retry_delay(delivery.attempt_count),
        )


@shared_task(bind=True, max_retries=services.MAX_ATTEMPTS, acks_late=True, ignore_result=True)
def send_notification(self, episode_id: int) -> None:
    """Check one episode when due and email it; a no-op when not due, settled, or held by another sender."""
    try:
        services.notification_send(episode_id=episode_id)
    except Exception as error:
        from .models import Episode

        attempts = Episode.objects.filter(pk=episode_id).values_list("attempts", flat=True).first() or 1
        raise self.retry(exc=error, countdown=services.retry_delay(attempts)) from error


@shared_task(ignore_result=True)
def settle_notifications() -> None:
    """Periodic (Celery beat): checks whose task was lost are run again."""
    for episode_id in services.notification_settle_lost():
        send_notification.delay(episode_id)
