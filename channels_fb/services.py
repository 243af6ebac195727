"""Every change the Messenger channel makes: connected pages, webhook deliveries, contacts, replies.

Messages themselves go through the one door in `conversations.services`; this module only turns
Facebook's events into calls to it, and agents' replies into Send API calls.
"""

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations import selectors as conversation_selectors
from conversations import services as conversation_services
from conversations.masking import mask_card_numbers
from conversations.models import Channel, Message
from helpdesk.errors import ServiceError, refused_on_conflict
from helpdesk.models import Agent
from visitors import services as visitor_services

from . import permissions, selectors
from .graph import GraphClient, GraphError
from .models import FacebookPage, MessengerContact, SentPart, WebhookDelivery

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 2000  # the Send API's limit for one text message
# Sent with each reply and echoed back by Facebook, so the echo of our own reply is recognised.
METADATA_PREFIX = "helpdesk-message:"


# --- Connected pages ---------------------------------------------------------------------------


def facebook_page_fields_clean(*, page_id: str, name: str, access_token: str, app_secret: str) -> dict:
    """A page needs its numeric id, a name, the page access token and the app secret."""
    fields = {
        "page_id": (page_id or "").strip(),
        "name": (name or "").strip(),
        "access_token": (access_token or "").strip(),
        "app_secret": (app_secret or "").strip(),
    }
    if not fields["page_id"].isdigit():
        raise ServiceError(_("The page id is the number Facebook shows in the page's settings."), field="page_id")
    labels = {"name": _("page name"), "access_token": _("page access token"), "app_secret": _("app secret")}
    for field, label in labels.items():
        if not fields[field]:
            raise ServiceError(_("The %(field)s is required.") % {"field": label}, field=field)
    return fields


@transaction.atomic
def facebook_page_connect(
    *, page_id: str, name: str, access_token: str, app_secret: str, human_agent_enabled: bool = False, actor: Agent
) -> FacebookPage:
    """The owner connects a page: its Messenger conversations come into the dashboard from now on."""
    if not actor.is_owner:
        raise ServiceError(_("Only the owner can connect Facebook pages."), code="forbidden")
    fields = facebook_page_fields_clean(page_id=page_id, name=name, access_token=access_token, app_secret=app_secret)
    # The unique page id decides, also between two owners connecting it at the same moment.
    with refused_on_conflict(ServiceError(_("This page is connected already."), code="conflict", field="page_id")):
        return FacebookPage.objects.create(**fields, human_agent_enabled=human_agent_enabled)


@transaction.atomic
def facebook_page_update(
    *,
    page: FacebookPage,
    actor: Agent,
    name: str | None = None,
    access_token: str = "",
    app_secret: str = "",
    human_agent_enabled: bool | None = None,
) -> FacebookPage:
    """The owner changes a page; a blank secret keeps the stored one, and a new access token reconnects
    a page whose token had expired."""
    if not actor.is_owner:
        raise ServiceError(_("Only the owner can change Facebook pages."), code="forbidden")
    page = FacebookPage.objects.select_for_update().get(pk=page.pk)
    fields = facebook_page_fields_clean(
        page_id=page.page_id,
        name=page.name if name is None else name,
        access_token=access_token or page.access_token,
        app_secret=app_secret or page.app_secret,
    )
    new_token = fields["access_token"] != page.access_token
    for field in ("name", "access_token", "app_secret"):
        setattr(page, field, fields[field])
    if human_agent_enabled is not None:
        page.human_agent_enabled = human_agent_enabled
    if new_token and page.disconnected_reason == FacebookPage.Disconnection.TOKEN_EXPIRED:
        _mark_connected(page)
    page.save()
    return page


def _mark_connected(page: FacebookPage) -> None:
    page.connected = True
    page.disconnected_reason = FacebookPage.Disconnection.NONE
    page.disconnected_at = None


@transaction.atomic
def facebook_page_reconnect(*, page: FacebookPage, actor: Agent) -> FacebookPage:
    """The owner connects a disconnected page again."""
    if not actor.is_owner:
        raise ServiceError(_("Only the owner can connect Facebook pages."), code="forbidden")
    page = FacebookPage.objects.select_for_update().get(pk=page.pk)
    _mark_connected(page)
    page.save(update_fields=["connected", "disconnected_reason", "disconnected_at"])
    return page


@transaction.atomic
def facebook_page_disconnect(*, page: FacebookPage, actor: Agent) -> FacebookPage:
    """The owner disconnects a page: its messages are no longer taken in and replies no longer sent."""
    if not actor.is_owner:
        raise ServiceError(_("Only the owner can disconnect Facebook pages."), code="forbidden")
    page = FacebookPage.objects.select_for_update().get(pk=page.pk)
    page.connected = False
    page.disconnected_reason = FacebookPage.Disconnection.BY_OWNER
    page.disconnected_at = timezone.now()
    page.save(update_fields=["connected", "disconnected_reason", "disconnected_at"])
    return page


@transaction.atomic
def facebook_page_token_expired(*, page: FacebookPage) -> FacebookPage:
    """Facebook no longer accepts the page's token: the page is marked disconnected and the owners are
    told once, by email, to enter a new one."""
    page = FacebookPage.objects.select_for_update().get(pk=page.pk)
    if page.disconnected_reason == FacebookPage.Disconnection.TOKEN_EXPIRED:
        return page
    page.connected = False
    page.disconnected_reason = FacebookPage.Disconnection.TOKEN_EXPIRED
    page.disconnected_at = timezone.now()
    page.save(update_fields=["connected", "disconnected_reason", "disconnected_at"])
    logger.error("Facebook page %s: the access token expired; the page is marked disconnected.", page.page_id)
    owners = list(Agent.objects.filter(role=Agent.Role.OWNER, is_active=True).values_list("email", flat=True))
    if owners:
        link = settings.SITE_URL.rstrip("/") + reverse("admin:channels_fb_facebookpage_change", args=[page.pk])
        transaction.on_commit(
            partial(
                send_mail,
                _("Facebook page %(page)s is disconnected") % {"page": page.name},
                _(
                    "Facebook no longer accepts the access token of the page %(page)s, so replies to Messenger "
                    "customers cannot be sent. Enter a new page access token here: %(link)s"
                )
                % {"page": page.name, "link": link},
                None,
                owners,
                fail_silently=True,
            )
        )
    return page


# --- Webhook deliveries ------------------------------------------------------------------------


@transaction.atomic
def webhook_delivery_store(*, body: bytes) -> tuple[WebhookDelivery, bool]:
    """Keep a signed POST exactly as it came, once, and process it in the background after commit."""
    from .tasks import process_webhook_delivery

    digest = hashlib.sha256(body).hexdigest()
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(body_sha256=digest, body=_without_card_numbers(body))
    except IntegrityError:
        return WebhookDelivery.objects.get(body_sha256=digest), False
    process_webhook_delivery.delay_on_commit(delivery.pk)
    return delivery, True


# What people type or tap (message texts, button titles and payloads); ids and URLs are left alone, since a
# page-scoped id can look like a card number.
_TYPED_KEYS = {"text", "title", "payload"}


def _masked_typed_values(value):
    if isinstance(value, dict):
        return {
            key: mask_card_numbers(item) if key in _TYPED_KEYS and isinstance(item, str) else _masked_typed_values(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_masked_typed_values(item) for item in value]
    return value


def _without_card_numbers(body: bytes) -> str:
    """The body as Facebook sent it, unless a customer typed a card number: a raw card number is never
    stored, so then it is kept with that number masked (the hash of the raw bytes still dedupes it)."""
    text = body.decode("utf-8")
    payload = json.loads(text)
    masked = _masked_typed_values(payload)
    return text if masked == payload else json.dumps(masked, ensure_ascii=False)


@transaction.atomic
def webhook_delivery_process_again(*, delivery: WebhookDelivery, actor: Agent) -> WebhookDelivery:
    """The owner has a failed delivery processed again; every event is idempotent, so nothing doubles."""
    from .tasks import process_webhook_delivery

    if not actor.is_owner:
        raise ServiceError(_("Only the owner can process webhook deliveries again."), code="forbidden")
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status != WebhookDelivery.Status.FAILED:
        return delivery
    delivery.status = WebhookDelivery.Status.RECEIVED
    delivery.save(update_fields=["status"])
    process_webhook_delivery.delay_on_commit(delivery.pk)
    return delivery


def webhook_deliveries_purge(*, older_than: timedelta) -> int:
    """Processed deliveries are kept for a while for troubleshooting, then deleted; failed ones stay."""
    deleted, _ = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PROCESSED, received_at__lt=timezone.now() - older_than
    ).delete()
    return deleted


def webhook_delivery_process(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Apply every event of every entry of a stored delivery; one broken event does not stop the others,
    and a delivery already processed is not processed again."""
    if delivery.status == WebhookDelivery.Status.PROCESSED:
        return delivery
    errors: list[str] = []
    try:
        payload = json.loads(delivery.body)
        entries = (payload.get("entry") or []) if isinstance(payload, dict) else []
    except ValueError as error:
        entries, errors = [], [f"malformed JSON: {error}"]
    for entry in entries:
        if not isinstance(entry, dict):
            errors.append(f"an entry is not an object: {entry!r:.100}")
            continue
        page = FacebookPage.objects.filter(page_id=str(entry.get("id", ""))).first()
        if page is None or not page.receives_messages:
            logger.info("Webhook entry for page %s ignored: the page is not connected.", entry.get("id"))
            continue
        # "standby" events belong to conversations another app controls (handover protocol): accepted, ignored.
        for event in entry.get("messaging") or []:
            if not isinstance(event, dict):
                errors.append(f"an event is not an object: {event!r:.100}")
                continue
            try:
                with transaction.atomic():
                    _apply_event(page, event)
            except ServiceError as error:
                errors.append(f"{_event_kind(event)}: {error.message}")
            except Exception as error:
                logger.exception("Messenger event could not be applied (page %s)", page.page_id)
                errors.append(f"{_event_kind(event)}: {error.__class__.__name__}: {error}")
    delivery.status = WebhookDelivery.Status.FAILED if errors else WebhookDelivery.Status.PROCESSED
    delivery.error = "\n".join(errors)
    delivery.processed_at = timezone.now()
    delivery.save(update_fields=["status", "error", "processed_at"])
    return delivery


def _event_kind(event: dict) -> str:
    for kind in ("message", "postback", "delivery", "read"):
        if kind in event:
            return kind
    return "unknown event"


def _event_time(event: dict) -> datetime:
    timestamp = event.get("timestamp")
    if isinstance(timestamp, int | float):
        return datetime.fromtimestamp(timestamp / 1000, tz=UTC)
    return timezone.now()


def _apply_event(page: FacebookPage, event: dict) -> None:
    sender = str((event.get("sender") or {}).get("id", ""))
    recipient = str((event.get("recipient") or {}).get("id", ""))
    if "message" in event:
        message = event["message"]
        if message.get("is_echo"):
            _apply_echo(page, psid=recipient, message=message)
        else:
            _apply_customer_message(
                page, psid=sender, mid=message.get("mid"), body=message_body(message), at=_event_time(event)
            )
    elif "postback" in event:
        postback = event["postback"]
        mid = postback.get("mid") or f"postback:{page.page_id}:{sender}:{event.get('timestamp')}"
        body = postback.get("title") or postback.get("payload") or ""
        _apply_customer_message(page, psid=sender, mid=mid, body=body, at=_event_time(event))
    elif "delivery" in event:
        _apply_receipt(page, psid=sender, receipt=event["delivery"], status=Message.Delivery.DELIVERED)
    elif "read" in event:
        _apply_receipt(page, psid=sender, receipt=event["read"], status=Message.Delivery.READ)
    else:
        logger.debug("Messenger event of a kind we do not use ignored: %s", sorted(event))


def message_body(message: dict) -> str:
    """The text of a Messenger message as the dashboard shows it: the text, then one line per attachment
    (`[image] https://...`), which the dashboard can render as a link or a preview."""
    lines = [message.get("text") or ""]
    for attachment in message.get("attachments") or []:
        lines.append(_attachment_line(attachment))
    return "\n".join(line for line in lines if line)


def _attachment_line(attachment: dict) -> str:
    kind = attachment.get("type") or "file"
    payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
    url = payload.get("url") or attachment.get("url") or ""
    if payload.get("sticker_id"):
        kind = "sticker"
    if kind == "fallback":  # a shared link
        return " ".join(part for part in ["[link]", attachment.get("title") or "", url] if part)
    if kind == "template":
        return " ".join(part for part in ["[template]", payload.get("text") or ""] if part)
    return f"[{kind}] {url}".strip()


def _apply_customer_message(page: FacebookPage, *, psid: str, mid: str | None, body: str, at: datetime) -> None:
    if not psid or not mid:
        raise ServiceError(_("The event has no sender or no message id."), field="message")
    contact = messenger_contact_get_or_create(page=page, psid=psid)
    if contact.last_customer_message_at is None or contact.last_customer_message_at < at:
        contact.last_customer_message_at = at
        contact.save(update_fields=["last_customer_message_at"])
    if not body:
        logger.info("Messenger message %s has no content we can show; ignored.", mid)
        return
    conversation_services.visitor_message_create(
        visitor=contact.visitor, body=body, channel=Channel.MESSENGER, external_id=mid
    )


def _apply_echo(page: FacebookPage, *, psid: str, message: dict) -> None:
    """A copy of what the page sent. Our own replies are known (by their metadata, or the mid we stored);
    anything else was written from the page's Facebook inbox and appears as an agent message."""
    mid = message.get("mid")
    if not mid or (message.get("metadata") or "").startswith(METADATA_PREFIX):
        return
    if Message.objects.filter(channel=Channel.MESSENGER, external_id=mid).exists():
        return
    if SentPart.objects.filter(mid=mid).exists():
        return
    body = message_body(message)
    if not body or not psid:
        return
    contact = messenger_contact_get_or_create(page=page, psid=psid)
    conversation = conversation_selectors.visitor_conversations_on(
        visitor_id=contact.visitor_id, channel=Channel.MESSENGER
    ).first() or conversation_services.conversation_start(visitor=contact.visitor, channel=Channel.MESSENGER)
    conversation_services.message_create(
        conversation=conversation,
        author=Message.Author.AGENT,
        agent=None,
        body=body,
        channel=Channel.MESSENGER,
        external_id=mid,
    )


def _apply_receipt(page: FacebookPage, *, psid: str, receipt: dict, status: str) -> None:
    """A delivery or read watermark: every reply of ours up to it got there (delivery only moves forward)."""
    contact = selectors.contact_find(page=page, psid=psid)
    watermark = receipt.get("watermark")
    if contact is None or not isinstance(watermark, int | float):
        return
    until = datetime.fromtimestamp(watermark / 1000, tz=UTC)
    earlier = [Message.Delivery.SENT] + ([Message.Delivery.DELIVERED] if status == Message.Delivery.READ else [])
    ours = Message.objects.filter(
        conversation__visitor_id=contact.visitor_id,
        channel=Channel.MESSENGER,
        author=Message.Author.AGENT,
        agent__isnull=False,
        delivery_status__in=earlier,
    )
    mids = [mid for mid in receipt.get("mids") or [] if isinstance(mid, str)]
    for message in ours.filter(created_at__lte=until) | ours.filter(external_id__in=mids):
        conversation_services.message_set_delivery(message=message, status=status)


# --- Contacts ----------------------------------------------------------------------------------


@transaction.atomic
def messenger_contact_get_or_create(*, page: FacebookPage, psid: str) -> MessengerContact:
    """One visitor per person and page; a new one is named from their Facebook profile in the background."""
    from .tasks import fetch_profile

    if contact := selectors.contact_find(page=page, psid=psid):
        return contact
    try:
        with transaction.atomic():
            visitor = visitor_services.visitor_create(ip_address=None)
            contact = MessengerContact.objects.create(page=page, psid=psid, visitor=visitor)
    except IntegrityError:  # the same person's other message, processed at the same moment
        return MessengerContact.objects.select_related("visitor").get(page=page, psid=psid)
    fetch_profile.delay_on_commit(contact.pk)
    return contact


@transaction.atomic
def messenger_contact_set_profile(
    *, contact: MessengerContact, first_name: str = "", last_name: str = ""
) -> MessengerContact:
    """The profile was looked up (or refused): the visitor gets the name unless an agent already gave one."""
    contact = MessengerContact.objects.select_for_update().select_related("visitor").get(pk=contact.pk)
    contact.profile_checked_at = timezone.now()
    contact.save(update_fields=["profile_checked_at"])
    name = " ".join(part.strip() for part in (first_name, last_name) if part and part.strip())[:200]
    if name and not contact.visitor.name:
        visitor_services.visitor_update(visitor=contact.visitor, name=name)
    return contact


# --- Replies -----------------------------------------------------------------------------------


def split_text(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Cut a long reply into parts Messenger accepts, at a line break or a space when there is one."""
    parts = []
    text = text.strip()
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit + 1), text.rfind(" ", 0, limit + 1))
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def refusal_reason(error: GraphError) -> str:
    """What the agent is told when Facebook refuses a reply for good."""
    if error.window_closed:
        return _(
            "Messenger refused the reply: more than 24 hours have passed since the customer's last message "
            "(it can be sent once they write again)."
        )
    if error.user_unavailable:
        return _("This person isn't available on Messenger right now, so the reply could not be delivered.")
    if error.token_expired:
        return _("The Facebook page's access token expired; the owner must enter a new one in the admin.")
    return _("Facebook refused the reply: %(reason)s") % {"reason": error.message}


def reply_fail(*, message: Message, reason: str) -> Message:
    return conversation_services.message_set_delivery(message=message, status=Message.Delivery.FAILED, error=reason)


def reply_deliver(*, message_id: int) -> Message | None:
    """Send an agent's pending reply with the Send API: RESPONSE within 24 hours, the HUMAN_AGENT tag up to
    7 days when enabled, else it fails with the reason. Parts already sent are not sent again.

    Raises GraphError only when Facebook may take it later (rate limits, temporary and server errors).
    """
    message = Message.objects.select_related("conversation").filter(pk=message_id).first()
    if message is None or message.channel != Channel.MESSENGER or message.delivery_status != Message.Delivery.PENDING:
        return message
    contact = permissions.contact_of(message.conversation)
    if contact is None:
        return reply_fail(message=message, reason=_("This conversation has no Messenger contact to reply to."))
    policy = permissions.send_policy(contact)
    if isinstance(policy, str):
        return reply_fail(message=message, reason=policy)
    page = contact.page
    client = GraphClient(page_id=page.page_id, access_token=page.access_token, app_secret=page.app_secret)
    sent = dict(SentPart.objects.filter(message=message).values_list("index", "mid"))
    for index, text in enumerate(split_text(message.body)):
        if index in sent:
            continue
        try:
            mid = client.send_text(
                psid=contact.psid,
                text=text,
                messaging_type=policy.messaging_type,
                tag=policy.tag,
                metadata=f"{METADATA_PREFIX}{message.pk}",
            )
        except GraphError as error:
            if error.is_retryable:
                raise
            if error.token_expired:
                facebook_page_token_expired(page=page)
            logger.info("Messenger reply %s refused: %s", message.pk, error)
            return reply_fail(message=message, reason=refusal_reason(error))
        SentPart.objects.get_or_create(message=message, index=index, defaults={"mid": mid})
        sent[index] = mid
    return conversation_services.message_set_delivery(
        message=message, status=Message.Delivery.SENT, external_id=sent.get(0)
    )
