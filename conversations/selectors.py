"""Reads of conversations: the inbox tabs with their counts, and access to one conversation."""

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from helpdesk.errors import ServiceError
from helpdesk.models import Agent, AgentGroup

from .models import Conversation
from .permissions import conversations_visible_to

ALL, PRIMARY, NEW, MINE = "all", "primary", "new", "mine"
OPEN_TABS = (ALL, PRIMARY, NEW, MINE)


def _tab_filters(agent: Agent) -> dict[str, Q]:
    unassigned = Q(assignee__isnull=True)
    if AgentGroup.objects.exists():
        # With groups, New is what waits for one of my groups or for no group in particular.
        unassigned &= Q(group__isnull=True) | Q(group__in=agent.groups.all())
    mine = Q(assignee=agent)
    return {ALL: Q(), PRIMARY: unassigned | mine, NEW: unassigned, MINE: mine}


def inbox_tabs() -> tuple[str, ...]:
    """The Open subcategories shown: only All and New for a single agent without groups."""
    if Agent.objects.filter(is_active=True).count() <= 1 and not AgentGroup.objects.exists():
        return (ALL, NEW)
    return OPEN_TABS


def inbox_counts(agent: Agent) -> dict[str, int]:
    """How many open conversations each tab of the agent's inbox holds, in one query."""
    filters = _tab_filters(agent)
    open_conversations = conversations_visible_to(agent).filter(status=Conversation.Status.OPEN)
    return open_conversations.aggregate(
        **{tab: Count("pk", filter=filters[tab]) if tab != ALL else Count("pk") for tab in inbox_tabs()}
    )


def inbox_conversations(agent: Agent, tab: str) -> QuerySet[Conversation]:
    """The open conversations of one tab, most recent activity first."""
    if tab not in OPEN_TABS:
        raise ServiceError(_("Unknown inbox tab %(tab)s.") % {"tab": tab}, field="tab")
    return (
        conversations_visible_to(agent)
        .filter(_tab_filters(agent)[tab], status=Conversation.Status.OPEN)
        .select_related("visitor", "assignee", "group")
        .order_by("-last_message_at", "-id")
    )


def resolved_conversations(agent: Agent) -> QuerySet[Conversation]:
    return (
        conversations_visible_to(agent)
        .filter(status=Conversation.Status.RESOLVED)
        .select_related("visitor", "assignee", "group")
        .order_by("-resolved_at", "-id")
    )


def conversation_for_agent(*, agent: Agent, conversation_id: int) -> Conversation:
    """The conversation, if the agent may see it; otherwise not found (its existence is not theirs to know)."""
    conversation = (
        conversations_visible_to(agent)
        .select_related("visitor", "assignee", "group")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise ServiceError(_("No such conversation."), code="not_found")
    return conversation
