"""Outbound webhooks to integrations, and agents' notification emails (settings and episodes)."""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WebhookEvent(models.TextChoices):
    """The events an integration can be told about (the hub's event types)."""

    CONVERSATION_CREATED = "conversation.created", _("Conversation created")
    MESSAGE_CREATED = "message.created", _("Message created")
    CONVERSATION_RESOLVED = "conversation.resolved", _("Conversation resolved")
    CONVERSATION_REOPENED = "conversation.reopened", _("Conversation reopened")
    CONVERSATION_RATED = "conversation.rated", _("Conversation rated")
    CONVERSATION_MISSED = "conversation.missed", _("Missed conversation")
    CONVERSATION_OFFLINE_MESSAGE = "conversation.offline_message", _("Offline message")
    VISITOR_UPDATED = "visitor.updated", _("Visitor updated")


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A URL of the owner's integration that hears about the events it chose, signed with its secret."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    events = models.JSONField(_("events"), default=list, help_text=_("The event types sent to this URL."))
    # Kept in clear: each delivery is signed with it, and the receiver holds a copy to check the signature.
    secret = models.CharField(_("signing secret"), max_length=100, default=new_secret)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["url"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one endpoint; each try is a WebhookAttempt."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Sending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The receiver's de-duplication key: a resend carries the same id.
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, editable=False)
    event_type = models.CharField(_("event"), max_length=50, choices=WebhookEvent.choices)
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_recent_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """One HTTP POST of a delivery: what the receiver answered, or why it could not be reached."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField(_("attempted"), default=timezone.now)
    status_code = models.PositiveIntegerField(_("HTTP status"), null=True, blank=True)
    response_body = models.TextField(_("response"), blank=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    succeeded = models.BooleanField(_("succeeded"), default=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")

    def __str__(self) -> str:
        return f"{self.status_code or self.error[:40]}"


class NotificationSettings(models.Model):
    """Which emails an agent wants. An agent without a row has the defaults (both on)."""

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="notification_settings",
        verbose_name=_("agent"),
    )
    offline_messages = models.BooleanField(
        _("offline messages"),
        default=True,
        help_text=_("Email me when a visitor writes while I am offline."),
    )
    missed_conversations = models.BooleanField(
        _("missed conversations"),
        default=True,
        help_text=_("Email me when I was online and a visitor wrote, but left the website before anyone replied."),
    )

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return str(self.agent)


class Episode(models.Model):
    """Visitor messages that no agent has answered yet, from the first one on: the unit that is
    notified once, as an offline message or as a missed conversation."""

    class Kind(models.TextChoices):
        OFFLINE_MESSAGE = "offline_message", _("Offline message")
        MISSED = "missed", _("Missed conversation")

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+", verbose_name=_("conversation")
    )
    start_message = models.ForeignKey(
        "conversations.Message", on_delete=models.CASCADE, related_name="+", verbose_name=_("first message")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.SCHEDULED)
    # When the check may run: the end of the debounce of an offline message, or when the visitor left
    # the website; empty while a missed conversation waits for its visitor, back before its email went
    # out, to leave again.
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    # A sender holds the episode until then; a sender that died loses it, and the sweep takes over.
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    # An agent replied, the conversation was resolved, or (once notified) the visitor's visit ended:
    # the visitor's next message starts a new episode.
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    settled_at = models.DateTimeField(_("settled"), null=True, blank=True)
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="EpisodeRecipient", related_name="+", verbose_name=_("recipients")
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(fields=["conversation", "start_message"], name="episode_unique_per_start"),
            # One open episode per conversation: two processes deciding at once cannot both notify.
            models.UniqueConstraint(
                fields=["conversation"], condition=models.Q(ended_at__isnull=True), name="episode_one_open"
            ),
        ]
        indexes = [models.Index(fields=["state", "due_at"], name="episode_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.conversation_id}"


class EpisodeRecipient(models.Model):
    """An agent who is told about an episode, and whether their email went out."""

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="deliveries")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emailed_at = models.DateTimeField(_("emailed"), null=True, blank=True)

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        constraints = [models.UniqueConstraint(fields=["episode", "agent"], name="episode_recipient_unique")]

    def __str__(self) -> str:
        return str(self.agent_id)
