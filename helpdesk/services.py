"""Changes to agents and groups, used by the admin, the dashboard's settings and the API alike."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import ServiceError, refused_on_conflict
from .models import Account, Agent, AgentGroup, AgentOnlineSpan, ApiKey
from .permissions import why_cannot_lose_owner

AGENT_PERSONAL_FIELDS = {"name", "public_name", "language", "avatar", "status"}
AGENT_EDITABLE_FIELDS = AGENT_PERSONAL_FIELDS | {"role", "can_chat", "is_active", "email"}


def _require_owner(actor: Agent) -> None:
    if not actor.is_owner:
        raise ServiceError(_("Only the owner can manage agents."), code="forbidden")


def _check_email(email: str, *, exclude: Agent | None = None) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError(_("Enter a valid email address."), field="email") from None
    taken = Agent.objects.filter(email__iexact=email)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise _email_taken()
    return email


def _email_taken() -> ServiceError:
    return ServiceError(_("Another agent already uses this email address."), field="email", code="conflict")


def agent_fields_clean(*, email: str, name: str, role: str) -> tuple[str, str]:
    """A new agent's email (lowercased, not used by another agent, in any letter case), name and role
    checked: (email, name) as they are stored. The admin's form shows these refusals on its fields."""
    if role not in Agent.Role.values:
        raise ServiceError(_("Unknown role %(role)s.") % {"role": role}, field="role")
    if not (name or "").strip():
        raise ServiceError(_("The agent needs a name."), field="name")
    return _check_email(email), name.strip()


@transaction.atomic
def agent_create(
    *,
    actor: Agent | None,
    email: str,
    name: str,
    password: str | None,
    role: str = Agent.Role.LIMITED,
    public_name: str = "",
    language: str = "en",
    groups: list[AgentGroup] | tuple = (),
) -> Agent:
    """A new agent; only the owner adds agents (`actor=None` is the installer creating the first owner)."""
    if actor is not None:
        _require_owner(actor)
    elif Agent.objects.exists():
        raise ServiceError(_("Only the owner can manage agents."), code="forbidden")
    email, name = agent_fields_clean(email=email, name=name, role=role)
    agent = Agent(email=email, name=name, public_name=public_name, role=role, language=language)
    if password:
        try:
            validate_password(password, agent)
        except ValidationError as error:
            raise ServiceError(" ".join(error.messages), field="password") from None
        agent.set_password(password)
    else:
        agent.set_unusable_password()  # they set one through the password-reset email
    with refused_on_conflict(_email_taken()):
        agent.save()
    agent.groups.set(groups)
    return agent


@transaction.atomic
def agent_update(*, agent: Agent, actor: Agent, **changes) -> Agent:
    """Change an agent. Agents change their own profile (names, avatar, language, status); the rest
    is the owner's, and the account always keeps at least one active owner."""
    unknown = set(changes) - AGENT_EDITABLE_FIELDS - {"groups"}
    if unknown:
        raise ServiceError(_("These fields cannot be changed: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    if not (actor.pk == agent.pk and set(changes) <= AGENT_PERSONAL_FIELDS):
        _require_owner(actor)
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    if "email" in changes:
        changes["email"] = _check_email(changes["email"], exclude=agent)
    if "role" in changes and changes["role"] not in Agent.Role.values:
        raise ServiceError(_("Unknown role %(role)s.") % {"role": changes["role"]}, field="role")
    if "language" in changes and changes["language"] not in dict(Agent._meta.get_field("language").choices):
        raise ServiceError(_("Unknown language %(language)s.") % {"language": changes["language"]}, field="language")
    if "status" in changes and changes["status"] not in Agent.Status.values:
        raise ServiceError(_("Status is online or offline."), field="status")
    if "name" in changes and not (changes["name"] or "").strip():
        raise ServiceError(_("The agent needs a name."), field="name")
    role, is_active = changes.get("role", agent.role), changes.get("is_active", agent.is_active)
    if reason := why_cannot_lose_owner(agent, role=role, is_active=is_active):
        raise ServiceError(reason, field="role", code="conflict")
    groups = changes.pop("groups", None)
    for field, value in changes.items():
        setattr(agent, field, value)
    with refused_on_conflict(_email_taken()):
        agent.save()
    if groups is not None:
        agent.groups.set(groups)
    if "status" in changes:
        _online_spans_follow(agent)
    return agent


@transaction.atomic
def agent_set_status(*, agent: Agent, status: str) -> Agent:
    """The agent switches themselves online or offline."""
    if status not in Agent.Status.values:
        raise ServiceError(_("Status is online or offline."), field="status")
    fields = {"status": status}
    if status == Agent.Status.ONLINE:
        fields["last_seen_at"] = timezone.now()
    Agent.objects.filter(pk=agent.pk).update(**fields)
    for field, value in fields.items():
        setattr(agent, field, value)
    _online_spans_follow(agent)
    return agent


@transaction.atomic
def agent_heartbeat(*, agent: Agent) -> None:
    """A dashboard of the agent is still connected; presence expires without these."""
    now = timezone.now()
    Agent.objects.filter(pk=agent.pk).update(last_seen_at=now)
    agent.last_seen_at = now
    if agent.status == Agent.Status.ONLINE:
        _online_spans_follow(agent)


def _online_spans_follow(agent: Agent) -> None:
    """Keep the record of when the agent was online (`AgentOnlineSpan`) in step with their presence
    as `agent` has it: online, the current span lasts until their last heartbeat's presence expires
    (a new span starts if there is none); offline, it ends now."""
    now = timezone.now()
    spans = AgentOnlineSpan.objects.filter(agent=agent, until__gt=now)
    if not agent.is_online:
        spans.update(until=now)
        return
    until = agent.last_seen_at + timedelta(seconds=settings.AGENT_PRESENCE_TTL)
    if not spans.update(until=until):
        AgentOnlineSpan.objects.create(agent=agent, started_at=now, until=until)


def agent_online_spans_purge(*, older_than: timedelta) -> int:
    """Forget when agents were online longer ago than `older_than`: spans that ended before then."""
    deleted, _ = AgentOnlineSpan.objects.filter(until__lt=timezone.now() - older_than).delete()
    return deleted


# --- API keys -----------------------------------------------------------------------------------
API_KEY_PREFIX_LENGTH = 12
API_KEY_LAST_USED_PRECISION = timedelta(minutes=1)


def api_key_hash(key: str) -> str:
    # The key is 40+ random characters, so a fast hash cannot be brute-forced; a slow one would cost
    # every API request a fifth of a second.
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, agent: Agent, name: str, read_only: bool = False, actor: Agent) -> tuple[ApiKey, str]:
    """The owner makes a key that acts as `agent`; the full key is returned this once and never stored."""
    _require_owner(actor)
    name = (name or "").strip()
    if not name or len(name) > ApiKey._meta.get_field("name").max_length:
        raise ServiceError(_("A key name is 1 to 100 characters."), field="name")
    if not agent.is_active:
        raise ServiceError(_("%(agent)s cannot log in, so cannot have an API key.") % {"agent": agent}, field="agent")
    prefix = "hd_" + secrets.token_hex(API_KEY_PREFIX_LENGTH // 2 - 1)[: API_KEY_PREFIX_LENGTH - 3]
    key = f"{prefix}.{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        agent=agent, name=name, read_only=read_only, prefix=prefix, key_hash=api_key_hash(key)
    )
    return api_key, key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Agent) -> ApiKey:
    """A revoked key stops working at once and cannot be brought back."""
    _require_owner(actor)
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(*, key: str) -> ApiKey | None:
    """The live key matching `key` (its agent still able to log in), its last use recorded; else None."""
    prefix, _dot, _secret = (key or "").partition(".")
    api_key = ApiKey.objects.select_related("agent").filter(prefix=prefix, revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, api_key_hash(key)):
        return None
    if not api_key.agent.is_active:
        return None
    now = timezone.now()
    # Recorded to the minute: a write on every request would make each read a write.
    if api_key.last_used_at is None or now - api_key.last_used_at >= API_KEY_LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


# --- Account settings ----------------------------------------------------------------------------


def clean_allowed_origins(text: str) -> str:
    """One http(s) origin per line (scheme, host, optional port; no path); trailing slashes dropped."""
    from urllib.parse import urlsplit

    origins = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip().rstrip("/")
        if not line:
            continue
        try:
            parts = urlsplit(line)
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username
            or any(char in line for char in " ;,'\"\t")
        ):
            raise ServiceError(
                _("Line %(number)d is not a website origin like https://www.example.com: %(line)s")
                % {"number": number, "line": line[:100]},
                field="allowed_origins",
            )
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return "\n".join(dict.fromkeys(origins))


@transaction.atomic
def account_update(*, actor: Agent, **changes) -> Account:
    """The owner changes the account's name, the websites allowed to show the chat box, or whether
    and for how long visits are recorded."""
    if not actor.is_owner:
        raise ServiceError(_("Only the owner can change the account settings."), code="forbidden")
    unknown = set(changes) - {"name", "allowed_origins", "recording_enabled", "recording_retention_days"}
    if unknown:
        raise ServiceError(_("These fields cannot be changed: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    account = Account.objects.select_for_update().get(pk=Account.load().pk)
    if "allowed_origins" in changes:
        account.allowed_origins = clean_allowed_origins(changes["allowed_origins"])
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise ServiceError(_("The company name is required."), field="name")
        limit = Account._meta.get_field("name").max_length
        if len(name) > limit:
            raise ServiceError(_("The company name is at most %(limit)d characters.") % {"limit": limit}, field="name")
        account.name = name
    if "recording_enabled" in changes:
        account.recording_enabled = bool(changes["recording_enabled"])
    if "recording_retention_days" in changes:
        days = changes["recording_retention_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
            raise ServiceError(_("Keep recordings for 1 to 3650 days."), field="recording_retention_days")
        account.recording_retention_days = days
    account.save()
    return account


@transaction.atomic
def account_regenerate_identity_secret(*, actor: Agent) -> Account:
    """The owner replaces the identity secret: identify hashes made with the old one stop working."""
    from .models import _new_identity_secret

    if not actor.is_owner:
        raise ServiceError(_("Only the owner can change the account settings."), code="forbidden")
    account = Account.objects.select_for_update().get(pk=Account.load().pk)
    account.identity_secret = _new_identity_secret()
    account.save(update_fields=["identity_secret"])
    return account
