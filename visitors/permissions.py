"""Who may change what about a visitor, written once for the dashboard, the API and the admin."""

from django.utils.translation import gettext as _

from helpdesk.models import Agent
from helpdesk.permissions import why_cannot_write

from .models import VisitorNote


def why_cannot_change_note(agent: Agent, note: VisitorNote) -> str | None:
    """Every agent reads every note; its author, an agent with full access or the owner changes it."""
    if reason := why_cannot_write(agent):
        return reason
    if note.author_id == agent.pk or agent.has_full_access:
        return None
    return _("Only the note's author, an agent with full access or the owner can change it.")
