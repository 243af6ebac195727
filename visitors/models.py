import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Visitor(models.Model):
    """Someone who writes to the account: from the website's chat box, Messenger or email."""

    # The widget's first-party identity token; never shown to other visitors.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The website's own id for a logged-in customer (verified by the identify hash).
    external_id = models.CharField(_("customer id"), max_length=255, null=True, blank=True, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)

    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    user_agent = models.TextField(_("user agent"), blank=True)
    browser = models.CharField(_("browser"), max_length=100, blank=True)
    browser_version = models.CharField(_("browser version"), max_length=50, blank=True)
    os = models.CharField(_("operating system"), max_length=100, blank=True)
    os_version = models.CharField(_("operating system version"), max_length=50, blank=True)
    first_referrer = models.TextField(_("referring page"), blank=True)
    # Labelled values the website sends through the chat box ({key: {label, value}}).
    variables = models.JSONField(_("website variables"), default=dict, blank=True)
    # Customer data from an integration (a shop, a CRM), shown to every agent ({key: {label, value}}).
    customer_data = models.JSONField(_("customer data"), default=dict, blank=True)

    created_at = models.DateTimeField(_("first seen"), default=timezone.now, editable=False)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        indexes = [models.Index(fields=["name"], name="visitor_name_idx")]

    def __str__(self) -> str:
        return self.name or self.email or _("Visitor %(id)s") % {"id": self.pk}

    @property
    def initials(self) -> str:
        words = (self.name or self.email or "?").split()
        return "".join(word[0] for word in words[:2]).upper()


class VisitorNote(models.Model):
    """An agent's note about a visitor; every agent sees it."""

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField(_("note"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("note")
        verbose_name_plural = _("notes")

    def __str__(self) -> str:
        return self.body[:60]


class PageView(models.Model):
    """A page the visitor opened on the website."""

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="page_views")
    url = models.TextField(_("URL"))
    title = models.CharField(_("title"), max_length=500, blank=True)
    referrer = models.TextField(_("referrer"), blank=True)
    viewed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-viewed_at"]
        indexes = [models.Index(fields=["visitor", "-viewed_at"], name="pageview_visitor_idx")]

    def __str__(self) -> str:
        return self.url


class Recording(models.Model):
    """A recorded visit: the website pages as the visitor saw them, as rrweb events. Chunks arrive
    while the visitor browses; once they have left the website the recording is finalised into one
    compressed file in Django's default storage and shows in the visitor card."""

    class Status(models.TextChoices):
        # "Recording" is also the recording player's title; as a status it says the visit is still being recorded.
        RECORDING = "recording", pgettext_lazy("recording status", "Recording")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="recordings")
    # The chat box's id for the visit, kept across pages in the browser tab's session storage.
    session = models.UUIDField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECORDING)
    started_at = models.DateTimeField(default=timezone.now)
    last_chunk_at = models.DateTimeField(default=timezone.now)
    received_bytes = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="recordings/%Y/%m/", blank=True)
    size_bytes = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    pages = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True)
    finalised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["visitor", "session"], name="recording_one_per_visit")]
        indexes = [
            models.Index(fields=["visitor", "status"], name="recording_visitor_idx"),
            models.Index(fields=["status", "finalised_at"], name="recording_retention_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.visitor} {self.started_at:%Y-%m-%d %H:%M}"


class RecordingChunk(models.Model):
    """One batch of events as the chat box sent it (gzip-compressed JSON), until finalisation joins them."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="chunks")
    sequence = models.PositiveIntegerField()
    data = models.BinaryField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sequence"]
        constraints = [models.UniqueConstraint(fields=["recording", "sequence"], name="recording_chunk_once")]

    def __str__(self) -> str:
        return f"{self.recording} #{self.sequence}"
