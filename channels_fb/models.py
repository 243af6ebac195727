import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _new_verify_token() -> str:
    return secrets.token_urlsafe(24)


class FacebookPage(models.Model):
    """A Facebook page connected to the helpdesk: its Messenger conversations arrive in the dashboard."""

    class Disconnection(models.TextChoices):
        NONE = "", _("Connected")
        BY_OWNER = "owner", _("Disconnected by the owner")
        TOKEN_EXPIRED = "token_expired", _("The access token expired")

    page_id = models.CharField(_("page id"), max_length=64, unique=True)
    name = models.CharField(_("page name"), max_length=200)
    # Secrets: the admin never shows them back in full.
    access_token = models.TextField(_("page access token"))
    app_secret = models.CharField(_("app secret"), max_length=200)
    verify_token = models.CharField(
        _("verify token"),
        max_length=64,
        default=_new_verify_token,
        help_text=_("Paste it into the Facebook app's webhook settings together with the webhook URL."),
    )
    human_agent_enabled = models.BooleanField(
        _("human agent tag"),
        default=False,
        help_text=_(
            "Reply up to 7 days after the customer's last message with the HUMAN_AGENT tag "
            "(the Facebook app needs the Human Agent permission)."
        ),
    )
    connected = models.BooleanField(_("connected"), default=True)
    disconnected_reason = models.CharField(
        _("why disconnected"), max_length=20, choices=Disconnection.choices, default=Disconnection.NONE, blank=True
    )
    disconnected_at = models.DateTimeField(_("disconnected"), null=True, blank=True)
    created_at = models.DateTimeField(_("connected since"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("Facebook page")
        verbose_name_plural = _("Facebook pages")

    def __str__(self) -> str:
        return f"{self.name} ({self.page_id})"

    @property
    def receives_messages(self) -> bool:
        """An expired token stops our replies, not the customers' messages; the owner's disconnect stops both."""
        return self.connected or self.disconnected_reason == self.Disconnection.TOKEN_EXPIRED


class WebhookDelivery(models.Model):
    """One POST from Facebook, stored raw before anything else happens, so nothing is lost."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")

    # The same body posted twice (Facebook retries when we are slow) is one delivery.
    body_sha256 = models.CharField(max_length=64, unique=True)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.received_at:%Y-%m-%d %H:%M:%S}"


class MessengerContact(models.Model):
    """A person who writes to a page on Messenger (their page-scoped id), and the visitor they are here."""

    page = models.ForeignKey(FacebookPage, on_delete=models.CASCADE, related_name="contacts", db_index=False)
    psid = models.CharField(_("page-scoped id"), max_length=64)
    visitor = models.OneToOneField("visitors.Visitor", on_delete=models.CASCADE, related_name="messenger_contact")
    # The customer's last message: Messenger's reply windows (24 hours, 7 days with the tag) run from it.
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    profile_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("Messenger contact")
        verbose_name_plural = _("Messenger contacts")
        constraints = [models.UniqueConstraint(fields=["page", "psid"], name="messenger_contact_unique_per_page")]

    def __str__(self) -> str:
        return f"{self.psid} @ {self.page_id}"


class SentPart(models.Model):
    """One Send API call for a reply (long replies go out in parts), so a retried task never repeats a part."""

    message = models.ForeignKey("conversations.Message", on_delete=models.CASCADE, related_name="+", db_index=False)
    index = models.PositiveSmallIntegerField()
    mid = models.CharField(max_length=255)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "index"], name="messenger_sent_part_unique")]

    def __str__(self) -> str:
        return self.mid
