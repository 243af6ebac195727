from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ThreadedEmail(models.Model):
    """One email of a conversation's thread, sent or received, by its Message-ID: a later reply's
    In-Reply-To / References finds its conversation here, and our own replies thread under it."""

    class Direction(models.TextChoices):
        SENT = "sent", _("Sent")
        RECEIVED = "received", _("Received")

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="emails", db_index=False
    )
    message = models.OneToOneField(
        "conversations.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="email"
    )
    # The Message-ID header with its angle brackets, as it appears in In-Reply-To and References.
    message_id_header = models.CharField("Message-ID", max_length=255, unique=True)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    subject = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("email")
        verbose_name_plural = _("emails")
        indexes = [models.Index(fields=["conversation", "id"], name="email_thread_idx")]

    def __str__(self) -> str:
        return self.message_id_header


class EmailAttachment(models.Model):
    """A file a visitor attached to an email reply, kept when it is within the size limit."""

    message = models.ForeignKey("conversations.Message", on_delete=models.CASCADE, related_name="email_attachments")
    file = models.FileField(_("file"), upload_to="email-attachments/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=255, blank=True)
    size = models.PositiveBigIntegerField(_("size"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename
