"""Who may change whose notification settings."""

from django.utils.translation import gettext as _

from helpdesk.models import Agent


def why_cannot_change_settings(actor: Agent, agent: Agent) -> str | None:
    """Agents change their own (personal settings); the owner changes anyone's (the admin)."""
    if actor.pk == agent.pk or actor.is_owner:
        return None
    return _("Only the agent themselves or the owner can change these notification settings.")
