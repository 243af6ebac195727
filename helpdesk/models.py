from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AgentGroup(models.Model):
    """A team of agents that conversations can be routed and transferred to."""

    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("agent group")
        verbose_name_plural = _("agent groups")

    def __str__(self) -> str:
        return self.name


class AgentManager(BaseUserManager):
    def create_user(self, email: str, password: str | None = None, **fields) -> "Agent":
        if not email:
            raise ValueError("An agent needs an email address.")
        agent = self.model(email=self.normalize_email(email).lower(), **fields)
        agent.set_password(password)
        agent.save(using=self._db)
        return agent

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "Agent":
        fields["role"] = Agent.Role.OWNER
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, email: str) -> "Agent":
        return self.get(email__iexact=email)


class Agent(AbstractBaseUser):
    """Someone who answers visitors in the dashboard. The owner also configures the account."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        FULL = "full", _("Full access")
        LIMITED = "limited", _("Limited access")

    class Status(models.TextChoices):
        ONLINE = "online", _("Online")
        OFFLINE = "offline", _("Offline")

    email = models.EmailField(_("email"), unique=True)
    name = models.CharField(_("dashboard name"), max_length=100, help_text=_("Shown to colleagues."))
    public_name = models.CharField(
        _("public name"), max_length=100, blank=True, help_text=_("Shown to visitors; the dashboard name if empty.")
    )
    avatar = models.ImageField(_("avatar"), upload_to="avatars/", blank=True)
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.LIMITED)
    is_active = models.BooleanField(
        _("can log in"), default=True, help_text=_("Untick to lock the agent out of the helpdesk entirely.")
    )
    can_chat = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Inactive agents can read conversations but cannot write to visitors or take conversations."),
    )
    groups = models.ManyToManyField(AgentGroup, related_name="agents", blank=True, verbose_name=_("groups"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OFFLINE, help_text=_("Chosen by the agent.")
    )
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True, editable=False)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="en")
    date_joined = models.DateTimeField(_("joined"), default=timezone.now, editable=False)

    objects = AgentManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["name"]
        verbose_name = _("agent")
        verbose_name_plural = _("agents")
        indexes = [models.Index(fields=["status", "last_seen_at"], name="agent_presence_idx")]

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def display_public_name(self) -> str:
        return self.public_name or self.name

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER

    @property
    def has_full_access(self) -> bool:
        """Owners and full-access agents see every conversation and change every setting."""
        return self.role in (self.Role.OWNER, self.Role.FULL)

    @property
    def is_online(self) -> bool:
        """Chose to be online and a dashboard of theirs sent a heartbeat recently."""
        return (
            self.status == self.Status.ONLINE
            and self.last_seen_at is not None
            and self.last_seen_at >= timezone.now() - timedelta(seconds=settings.AGENT_PRESENCE_TTL)
        )

    # The Django admin is the owner's; these replace django.contrib.auth's permission tables.
    @property
    def is_staff(self) -> bool:
        return self.is_active and self.is_owner

    @property
    def is_superuser(self) -> bool:
        return self.is_staff

    def has_perm(self, perm: str, obj=None) -> bool:
        return self.is_staff

    def has_perms(self, perm_list, obj=None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_staff


class AgentOnlineSpan(models.Model):
    """A stretch of time an agent was online. Whether a visitor's unanswered message was missed is
    decided when the visitor leaves, by who was online when they wrote (notifications)."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="online_spans")
    started_at = models.DateTimeField()
    # The last heartbeat plus AGENT_PRESENCE_TTL, moved on by each heartbeat; or when they went offline.
    until = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["agent", "until"], name="online_span_agent_idx"),
            models.Index(fields=["until"], name="online_span_until_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.started_at:%Y-%m-%d %H:%M}–{self.until:%H:%M}"


def _new_identity_secret() -> str:
    import secrets

    return secrets.token_urlsafe(32)


class Account(models.Model):
    """The account's own settings; there is one row (`Account.load()`)."""

    name = models.CharField(_("company name"), max_length=200, default="Helpdesk")
    allowed_origins = models.TextField(
        _("website origins"),
        blank=True,
        help_text=_(
            "The websites allowed to show the chat box, one origin per line (https://www.example.com). "
            "The helpdesk's own address is always allowed."
        ),
    )
    recording_enabled = models.BooleanField(
        _("record visits"),
        default=True,
        help_text=_(
            "Record visitors' sessions for the visitor card. Every input is masked, and card numbers never "
            "leave the browser; websites can exclude pages or elements."
        ),
    )
    recording_retention_days = models.PositiveIntegerField(
        _("keep recordings for (days)"), default=30, help_text=_("Older recordings are deleted every night.")
    )
    identity_secret = models.CharField(
        _("identity verification secret"),
        max_length=100,
        default=_new_identity_secret,
        help_text=_("Your website signs logged-in visitors' ids with this (HMAC-SHA256); keep it on your server."),
    )

    class Meta:
        verbose_name = _("account settings")
        verbose_name_plural = _("account settings")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def load(cls) -> "Account":
        account, _created = cls.objects.get_or_create(pk=1)
        return account

    @property
    def origins(self) -> list[str]:
        from django.conf import settings as django_settings

        listed = [line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()]
        return [django_settings.SITE_URL, *listed]


class ApiKey(models.Model):
    """A key an integration uses to call the REST API as one agent, with that agent's rights.

    Only a hash is stored: the full key is shown once, when it is created.
    """

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("agent"))
    name = models.CharField(_("name"), max_length=100, help_text=_("What uses this key, e.g. “Web shop”."))
    # The first characters of the key, stored in clear to find its row; the rest is only hashed.
    prefix = models.CharField(_("key prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    read_only = models.BooleanField(_("read-only"), default=False, help_text=_("The key can read but not change."))
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
