import time

import httpx
from celery import shared_task

from . import services, webhooks
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
        services.webhook_delivery_abandon(delivery=delivery, reason="The webhook was switched off.")
        return
    started = time.monotonic()
    try:
        response = webhooks.post(url=endpoint.url, secret=endpoint.secret, delivery=delivery)
        status_code, body, error = response.status_code, response.text, ""
    except httpx.HTTPError as exc:
        status_code, body, error = None, "", f"{type(exc).__name__}: {exc}"
    delivery = services.webhook_attempt_record(
        delivery=delivery,
        status_code=status_code,
        response_body=body,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    if delivery.status == WebhookDelivery.Status.PENDING:
        raise self.retry(
            exc=WebhookNotDelivered(error or f"HTTP {status_code}"),
            countdown=services.webhook_retry_delay(delivery.attempt_count),
        )
