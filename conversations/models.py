from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    """Where a conversation or a message came through."""

    WEB = "web", _("Website chat")
    MESSENGER = "messenger", _("Facebook Messenger")
    EMAIL = "email", _("Email")


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique_ci")]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    # Foreign keys lead composite indexes below, so they need no index of their own.
    visitor = models.ForeignKey(
        "visitors.Visitor", on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
        verbose_name=_("agent"),
        db_index=False,
    )
    group = models.ForeignKey(
        "helpdesk.AgentGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        verbose_name=_("group"),
        db_index=False,
    )
    tags = models.ManyToManyField(Tag, related_name="conversations", blank=True, verbose_name=_("tags"))
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)
    rated_at = models.DateTimeField(_("rated"), null=True, blank=True)
    page_url = models.TextField(_("website URL"), blank=True, help_text=_("The page the conversation started on."))
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    last_message_at = models.DateTimeField(_("last message"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="conversation_rating_1_to_5",
            ),
        ]
        indexes = [
            # The inbox: open conversations, most recent activity first.
            models.Index(fields=["status", "-last_message_at"], name="conv_inbox_idx"),
            models.Index(fields=["assignee", "status", "-last_message_at"], name="conv_assignee_idx"),
            models.Index(fields=["group", "status", "-last_message_at"], name="conv_group_idx"),
            models.Index(fields=["visitor", "-created_at"], name="conv_visitor_idx"),
            # Search filters of the seed, each combined with recency.
            models.Index(fields=["-created_at", "-id"], name="conv_recent_idx"),
            models.Index(fields=["rating", "-created_at"], name="conv_rating_idx"),
            models.Index(fields=["assignee", "-created_at"], name="conv_agent_recent_idx"),
            models.Index(fields=["group", "-created_at"], name="conv_group_recent_idx"),
            models.Index(fields=["ip_address", "-created_at"], name="conv_ip_idx"),
            models.Index(fields=["status", "-resolved_at"], name="conv_resolved_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.visitor}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Message(models.Model):
    class Author(models.TextChoices):
        VISITOR = "visitor", _("Visitor")
        AGENT = "agent", _("Agent")
        SYSTEM = "system", _("System")

    class Delivery(models.TextChoices):
        # Only outbound messages on channels that deliver elsewhere (Messenger, email) use these.
        NONE = "", _("Not applicable")
        PENDING = "pending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False)
    author = models.CharField(_("author"), max_length=10, choices=Author.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    body = models.TextField(_("message"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.WEB)
    # The channel's own id (a Messenger mid, an email Message-ID): a second delivery is the same message.
    external_id = models.CharField(max_length=255, null=True, blank=True)
    # The sending client's id: a retried send is the same message.
    client_id = models.CharField(max_length=64, null=True, blank=True)
    delivery_status = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.NONE, blank=True)
    delivery_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="message_external_id_unique_per_channel",
            ),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="message_client_id_unique_per_conversation",
            ),
        ]
        indexes = [models.Index(fields=["conversation", "id"], name="message_thread_idx")]

    def __str__(self) -> str:
        return self.body[:60]


class ConversationEvent(models.Model):
    """One change in a conversation's history: who did what, when."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Started")
        JOINED = "joined", _("Joined")
        ASSIGNED = "assigned", _("Assigned")
        TRANSFERRED = "transferred", _("Transferred")
        TAGGED = "tagged", _("Tagged")
        UNTAGGED = "untagged", _("Untagged")
        RESOLVED = "resolved", _("Resolved")
        REOPENED = "reopened", _("Reopened")
        RATED = "rated", _("Rated")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("history event")
        verbose_name_plural = _("history")
        indexes = [models.Index(fields=["conversation", "id"], name="event_history_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"


class ConversationRead(models.Model):
    """How far an agent has read a conversation: visitor messages after it count as unread for them."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="reads", db_index=False)
    last_read_message_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "agent"], name="conversation_read_once_per_agent"),
        ]
        verbose_name = _("read mark")
        verbose_name_plural = _("read marks")

    def __str__(self) -> str:
        return f"{self.agent_id} read {self.conversation_id} up to {self.last_read_message_id}"
