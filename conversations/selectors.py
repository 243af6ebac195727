"""Reads of conversations: the inbox tabs with their counts, access to one conversation, search."""

from collections.abc import Mapping

from django.db.models import Count, Prefetch, Q, QuerySet, prefetch_related_objects
from django.utils.translation import gettext as _

from helpdesk.errors import ServiceError
from helpdesk.models import Agent, AgentGroup

from .filters import ConversationFilter
from .models import Conversation, Message, Tag
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


def conversation_search(*, agent: Agent, params: Mapping) -> QuerySet[Conversation]:
    """The conversations the agent may see that match every given filter, newest first.

    `params` is a QueryDict (or a plain dict) of filter names to values; an unknown filter or a value
    that does not parse is refused naming its field, never ignored.
    """
    allowed = ConversationFilter.parameters()
    for name in params:
        if name not in allowed:
            raise ServiceError(_("Unknown filter %(name)s.") % {"name": name}, field=name)
        if not allowed[name] and hasattr(params, "getlist") and len(params.getlist(name)) > 1:
            raise ServiceError(_("Give %(name)s only once.") % {"name": name}, field=name)
    filterset = ConversationFilter(data=params, queryset=conversations_visible_to(agent))
    if not filterset.is_valid():
        field, errors = next(iter(filterset.errors.items()))
        if field in ("created", "resolved"):
            field = f"{field}_after" if f"{field}_after" in params else f"{field}_before"
        raise ServiceError(" ".join(str(error) for error in errors), field=field)
    return (
        filterset.qs.select_related("visitor", "assignee", "group")
        .prefetch_related("tags")
        .order_by("-created_at", "-id")
    )


def conversation_with_messages(*, agent: Agent, conversation_id: int) -> Conversation:
    """The conversation (if the agent may see it) with its tags and messages loaded in a fixed number of queries."""
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    prefetch_related_objects(
        [conversation], "tags", Prefetch("messages", queryset=Message.objects.select_related("agent").order_by("id"))
    )
    return conversation


def conversation_messages(*, agent: Agent, conversation_id: int) -> QuerySet[Message]:
    """The messages of a conversation the agent may see, oldest first."""
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    return conversation.messages.select_related("agent").order_by("id")


def visitor_conversations(*, agent: Agent, visitor_id: int) -> QuerySet[Conversation]:
    """A visitor's conversations that the agent may see, newest first."""
    return (
        conversations_visible_to(agent)
        .filter(visitor_id=visitor_id)
        .select_related("visitor", "assignee", "group")
        .prefetch_related("tags")
        .order_by("-created_at", "-id")
    )


def tag_get(*, tag_id: int) -> Tag:
    tag = Tag.objects.filter(pk=tag_id).first()
    if tag is None:
        raise ServiceError(_("No such tag."), code="not_found", field="tag")
    return tag


def tags_list() -> QuerySet[Tag]:
    return Tag.objects.order_by("name")
