"""Outbound webhooks: which endpoints hear an event, what each attempt did, resending."""

import time
import uuid
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import ServiceError
from helpdesk.models import Agent

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, new_secret

RESPONSE_KEPT = 2000
RETRY_DELAY_MAX = 6 * 3600


def webhook_events_clean(events) -> list[str]:
    """The endpoint's chosen events, each one we send; refused naming the first we do not know."""
    if not isinstance(events, list) or not events:
        raise ServiceError(_("Choose at least one event."), field="events")
    for event in events:
        if event not in WebhookEvent.values:
            raise ServiceError(_("Unknown event %(event)s.") % {"event": event}, field="events")
    return sorted(set(events))


ENDPOINT_FIELDS = {"url", "description", "events", "is_active"}


def _require_owner(actor: Agent) -> None:
    if not actor.is_owner:
        raise ServiceError(_("Only the owner can manage webhooks."), code="forbidden")


def webhook_url_clean(url: str) -> str:
    """An http(s) address no longer than the model keeps."""
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ServiceError(_("Enter an http or https address."), field="url") from None
    limit = WebhookEndpoint._meta.get_field("url").max_length
    if len(url) > limit:
        raise ServiceError(_("The address is at most %(limit)d characters.") % {"limit": limit}, field="url")
    return url


def _endpoint_fields_clean(changes: dict) -> dict:
    unknown = set(changes) - ENDPOINT_FIELDS
    if unknown:
        raise ServiceError(_("These fields cannot be changed: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    cleaned = dict(changes)
    if "url" in cleaned:
        cleaned["url"] = webhook_url_clean(cleaned["url"])
    if "events" in cleaned:
        cleaned["events"] = webhook_events_clean(cleaned["events"])
    if "description" in cleaned:
        cleaned["description"] = (cleaned["description"] or "").strip()
        limit = WebhookEndpoint._meta.get_field("description").max_length
        if len(cleaned["description"]) > limit:
            raise ServiceError(
                _("The description is at most %(limit)d characters.") % {"limit": limit}, field="description"
            )
    if "is_active" in cleaned:
        cleaned["is_active"] = bool(cleaned["is_active"])
    return cleaned


@transaction.atomic
def webhook_endpoint_create(
    *, url: str, events: list[str], actor: Agent, description: str = "", is_active: bool = True
) -> WebhookEndpoint:
    """The owner registers a URL for the events it chose; it gets its own new signing secret."""
    _require_owner(actor)
    fields = _endpoint_fields_clean({"url": url, "events": events, "description": description, "is_active": is_active})
    return WebhookEndpoint.objects.create(**fields)


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, actor: Agent, **changes) -> WebhookEndpoint:
    """The owner changes a webhook's URL, description, events or whether it is active. Deliveries
    still pending when it is switched off fail when their turn comes, and are not sent."""
    _require_owner(actor)
    fields = _endpoint_fields_clean(changes)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    for field, value in fields.items():
        setattr(endpoint, field, value)
    endpoint.save(update_fields=list(fields) or None)
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Agent) -> None:
    """The owner removes a webhook, with its log of deliveries."""
    _require_owner(actor)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Agent) -> WebhookEndpoint:
    """The owner replaces a webhook's signing secret: deliveries from now on are signed with the new one."""
    _require_owner(actor)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint


# Every message asks whether an endpoint wants its event, and almost never one does: each process keeps
# the answer until an endpoint changes, which sets a new generation in the shared cache. Asking the cache
# for the generation on every event was a tenth of a chat message's CPU in the services, so a process
# asks it at most once a GENERATION_RECHECK_SECONDS: a change made in another process is heard within
# that, and one made in this process at once.
GENERATION_KEY = "notifications:webhooks-generation"
GENERATION_RECHECK_SECONDS = 1.0
_clock = time.monotonic


class _Answer(NamedTuple):
    generation: str
    events: frozenset[str]
    checked_at: float  # `_clock()` when the generation was last read


_events_wanted: _Answer | None = None


def _new_generation() -> None:
    global _events_wanted
    _events_wanted = None
    cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)


def webhook_endpoints_changed(**_signal) -> None:
    """An endpoint was saved or deleted: every process reads the endpoints again for its next event.
    Said at once and again after commit, so a process that read them in between reads them again."""
    _new_generation()
    transaction.on_commit(_new_generation)


def _events_wanted_by_endpoints() -> frozenset[str]:
    """The event types some active endpoint chose. Inside a transaction, which may hold endpoint
    changes of its own, they are read afresh; the shared answer is for committed endpoints."""
    global _events_wanted

    def read() -> frozenset[str]:
        return frozenset(
            event
            for events in WebhookEndpoint.objects.filter(is_active=True).values_list("events", flat=True)
            for event in events
        )

    if connection.in_atomic_block:
        return read()
    now = _clock()
    known = _events_wanted
    if known is not None and now - known.checked_at < GENERATION_RECHECK_SECONDS:
        return known.events
    generation = cache.get(GENERATION_KEY)
    if generation is None:  # a new cache: start a generation, unless another process just did
        cache.add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        generation = cache.get(GENERATION_KEY)
    if known is None or known.generation != generation:
        # Read after the generation: a change meanwhile sets a new one.
        _events_wanted = _Answer(generation, read(), now)
    else:
        _events_wanted = known._replace(checked_at=now)
    return _events_wanted.events


def webhook_deliveries_create(*, event: dict) -> list[WebhookDelivery]:
    """Every active endpoint that chose this event gets a delivery, sent by Celery after commit."""
    event_type = event.get("type")
    if event_type not in WebhookEvent.values or event_type not in _events_wanted_by_endpoints():
        return []
    # Few endpoints, and JSON containment is not portable to SQLite: choose them in Python.
    endpoints = [
        endpoint for endpoint in WebhookEndpoint.objects.filter(is_active=True) if event_type in endpoint.events
    ]
    if not endpoints:
        return []  # the usual case, on every message: no transaction to open
    payload = {key: value for key, value in event.items() if key != "type"}
    from .tasks import deliver_webhook  # the task module imports these services

    with transaction.atomic():
        deliveries = [
            WebhookDelivery.objects.create(endpoint=endpoint, event_type=event_type, payload=payload)
            for endpoint in endpoints
        ]
        for delivery in deliveries:
            deliver_webhook.delay_on_commit(delivery.pk)
    return deliveries


def webhook_event_heard(event: dict) -> None:
    """The hub's subscriber: runs after the publishing transaction committed."""
    webhook_deliveries_create(event=event)


def webhook_retry_delay(attempt_count: int) -> int:
    """Seconds before the next try: 30 s, 1 min, 2 min, ... doubling, at most 6 hours apart."""
    return min(30 * 2 ** max(attempt_count - 1, 0), RETRY_DELAY_MAX)


@transaction.atomic
def webhook_attempt_record(
    *,
    delivery: WebhookDelivery,
    status_code: int | None,
    response_body: str = "",
    error: str = "",
    duration_ms: int = 0,
) -> WebhookDelivery:
    """Log one attempt; a 2xx answer delivers it, and running out of attempts fails it."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    succeeded = status_code is not None and 200 <= status_code < 300
    WebhookAttempt.objects.create(
        delivery=delivery,
        status_code=status_code,
        response_body=(response_body or "")[:RESPONSE_KEPT],
        error=error[:RESPONSE_KEPT],
        duration_ms=duration_ms,
        succeeded=succeeded,
    )
    delivery.attempt_count += 1
    if succeeded:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = timezone.now()
    elif delivery.attempt_count >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
    delivery.save(update_fields=["attempt_count", "status", "delivered_at"])
    return delivery


@transaction.atomic
def webhook_delivery_abandon(*, delivery: WebhookDelivery, reason: str) -> WebhookDelivery:
    """A pending delivery that will not be sent (its webhook was switched off) is failed, with why."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status == WebhookDelivery.Status.PENDING:
        WebhookAttempt.objects.create(delivery=delivery, error=reason)
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.save(update_fields=["status"])
    return delivery


@transaction.atomic
def webhook_delivery_resend(*, delivery: WebhookDelivery, actor: Agent) -> WebhookDelivery:
    """The owner sends a delivery again (same event id, so the receiver can tell), with fresh attempts."""
    if not actor.is_owner:
        raise ServiceError(_("Only the owner can resend webhooks."), code="forbidden")
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.attempt_count = 0
    delivery.delivered_at = None
    delivery.save(update_fields=["status", "attempt_count", "delivered_at"])
    from .tasks import deliver_webhook

    deliver_webhook.delay_on_commit(delivery.pk)
    return delivery
