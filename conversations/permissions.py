"""Who may do what with a conversation, written once.

Each `why_cannot_*` returns the reason an agent is refused, or None when allowed, so the dashboard
can show the reason beside a disabled button and the services raise it as their refusal.
"""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from helpdesk.models import Agent
from helpdesk.permissions import why_cannot_write

from .models import Conversation


def conversations_visible_to(agent: Agent) -> QuerySet[Conversation]:
    """Full access sees everything; a limited agent sees conversations routed to one of their groups,
    to no group, or assigned to them."""
    conversations = Conversation.objects.all()
    if agent.has_full_access:
        return conversations
    return conversations.filter(Q(group__isnull=True) | Q(group__in=agent.groups.all()) | Q(assignee=agent))


def can_view(agent: Agent, conversation: Conversation) -> bool:
    if agent.has_full_access or conversation.group_id is None or conversation.assignee_id == agent.pk:
        return True
    return agent.groups.filter(pk=conversation.group_id).exists()


def why_cannot_reply(agent: Agent, conversation: Conversation) -> str | None:
    return why_cannot_write(agent) or (
        None if can_view(agent, conversation) else _("This conversation is not yours to see.")
    )


def why_cannot_resolve(agent: Agent, conversation: Conversation) -> str | None:
    """Only the assignee, an agent with full access or the owner may resolve (the seed's rule)."""
    if reason := why_cannot_write(agent):
        return reason
    if conversation.assignee_id == agent.pk or agent.has_full_access:
        return None
    return _("Only the assigned agent, an agent with full access or the owner can resolve this conversation.")


def why_cannot_transfer(agent: Agent, conversation: Conversation) -> str | None:
    """Handing a conversation over follows the resolve rule: it is the assignee's to give away."""
    if reason := why_cannot_write(agent):
        return reason
    if conversation.assignee_id == agent.pk or agent.has_full_access:
        return None
    return _("Only the assigned agent, an agent with full access or the owner can transfer this conversation.")


def why_cannot_assign(agent: Agent) -> str | None:
    if reason := why_cannot_write(agent):
        return reason
    return None if agent.has_full_access else _("Only agents with full access and the owner can assign conversations.")


def why_cannot_create_tag(agent: Agent) -> str | None:
    if reason := why_cannot_write(agent):
        return reason
    return None if agent.has_full_access else _("Only agents with full access and the owner can create new tags.")


def why_cannot_change_tags(agent: Agent) -> str | None:
    if reason := why_cannot_write(agent):
        return reason
    return None if agent.has_full_access else _("Only agents with full access and the owner can change tags.")


def why_cannot_join(agent: Agent, conversation: Conversation) -> str | None:
    """Anyone who can write may take an unassigned conversation; taking over a colleague's needs full access."""
    if reason := why_cannot_reply(agent, conversation):
        return reason
    if conversation.assignee_id in (None, agent.pk) or agent.has_full_access:
        return None
    return _("This conversation is assigned to a colleague; ask them or a full-access agent to transfer it.")


def can_resolve(agent: Agent, conversation: Conversation) -> bool:
    return why_cannot_resolve(agent, conversation) is None


def why_cannot_rate(conversation: Conversation) -> str | None:
    """A conversation is rated once it is resolved, once per resolution."""
    if conversation.is_open:
        return _("A conversation can be rated once it is resolved.")
    if conversation.rated_at and conversation.resolved_at and conversation.rated_at >= conversation.resolved_at:
        return _("This conversation has already been rated.")
    return None
