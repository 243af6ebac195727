"""Rules about agents, written once for the admin, the dashboard and the API."""

from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from .models import Account, Agent


def why_cannot_lose_owner(agent: Agent, *, role: str, is_active: bool) -> str | None:
    """The account always keeps at least one active owner: `agent` as stored now may not become
    something else (`role`, `is_active`) if they are the last one."""
    was_owner = agent.pk is not None and agent.role == Agent.Role.OWNER and agent.is_active
    stays_owner = role == Agent.Role.OWNER and is_active
    if not was_owner or stays_owner:
        return None
    others = Agent.objects.filter(role=Agent.Role.OWNER, is_active=True).exclude(pk=agent.pk)
    return None if others.exists() else _("The account must keep at least one active owner.")


def why_cannot_write(agent: Agent) -> str | None:
    """Inactive agents read (conversations, visitor cards) but write nothing and take nothing."""
    if not agent.is_active or not agent.can_chat:
        return _("Your account is inactive: you can read conversations but not write or take them.")
    return None


def website_may_connect(origin: str, host: str) -> bool:
    """A chat box may talk to us from the frame we serve (same host) or from a page on one of the
    websites the owner allowed; any other origin, or none, is refused."""
    parts = urlsplit(origin or "")
    if not parts.scheme or not parts.netloc:
        return False
    if parts.netloc.lower() == host.lower():
        return True
    allowed = {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}".lower() for url in Account.load().origins}
    return f"{parts.scheme}://{parts.netloc}".lower() in allowed
