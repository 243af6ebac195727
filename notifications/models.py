from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
    # the website; empty while a possibly missed conversation waits for the visitor to leave.
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
