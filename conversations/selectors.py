"""Reads of conversations: the inbox tabs with their counts, access to one conversation, search."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import (
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce, Left
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from helpdesk.errors import ServiceError
from helpdesk.models import Agent, AgentGroup
from visitors.models import Visitor

from .events import message_files
from .filters import ConversationFilter
from .models import Conversation, ConversationEvent, ConversationRead, Message, Tag
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


def tags_of_conversations(conversation_ids: list[int]) -> dict[int, list[dict]]:
    """Each conversation's tags (`{"id", "name"}`, by name) in one query, for a page of a list read as rows."""
    tags: dict[int, list[dict]] = {pk: [] for pk in conversation_ids}
    if not conversation_ids:
        return tags
    # Written out: the ORM took longer to write this query than the database to answer it, on every page.
    links, tag = Conversation.tags.through._meta.db_table, Tag._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT l."conversation_id", t."id", t."name" FROM "{links}" l '
            f'INNER JOIN "{tag}" t ON t."id" = l."tag_id" '
            f'WHERE l."conversation_id" IN ({", ".join(["%s"] * len(conversation_ids))}) ORDER BY t."name", t."id"',
            conversation_ids,
        )
        for conversation_id, tag_id, name in cursor.fetchall():
            tags[conversation_id].append({"id": tag_id, "name": name})
    return tags


def people_of_conversations(rows: list[dict]) -> tuple[dict[int, dict], dict[int, dict], dict[int, dict]]:
    """The visitors (`{"id", "name", "email"}`), agents and groups (`{"id", "name"}`) a page of
    conversation rows names by `visitor_id`, `assignee_id` and `group_id`, by id, in one query.

    A list reads its page of conversations alone and their people after: joined in the page's own
    query, every match would have had to be joined before sorting, and for a rare match the planner
    walked the newest conversations one by one instead (21 ms instead of 6 ms for two tags at once, at
    1,000,000 conversations: bench/search.py)."""
    wanted = [
        ("visitor", Visitor, '"email"', {row["visitor_id"] for row in rows}),
        ("agent", Agent, "''", {row["assignee_id"] for row in rows} - {None}),
        ("group", AgentGroup, "''", {row["group_id"] for row in rows} - {None}),
    ]
    found: dict[str, dict[int, dict]] = {kind: {} for kind, *_ in wanted}
    selects, params = [], []
    for kind, model, email, ids in wanted:
        if ids:
            selects.append(
                f'SELECT \'{kind}\', "id", "name", {email} FROM "{model._meta.db_table}" '
                f'WHERE "id" IN ({", ".join(["%s"] * len(ids))})'
            )
            params.extend(ids)
    if selects:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects), params)
            for kind, pk, name, email in cursor.fetchall():
                found[kind][pk] = (
                    {"id": pk, "name": name, "email": email} if kind == "visitor" else {"id": pk, "name": name}
                )
    return found["visitor"], found["agent"], found["group"]


def conversation_with_messages(*, agent: Agent, conversation_id: int) -> Conversation:
    """The conversation (if the agent may see it) with its tags and messages, each message with its
    `files`, loaded in a fixed number of queries."""
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    prefetch_related_objects(
        [conversation], "tags", Prefetch("messages", queryset=Message.objects.select_related("agent").order_by("id"))
    )
    with_files(list(conversation.messages.all()))
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


CARD_CONVERSATIONS = 50


def visitor_card_conversations(agent: Agent, visitor: Visitor) -> dict:
    """The visitor card lists the visitor's conversations the agent may see, never the others."""
    conversations = visitor_conversations(agent=agent, visitor_id=visitor.pk).prefetch_related(None)
    return {"visitor_conversations": conversations[:CARD_CONVERSATIONS]}


def tag_get(*, tag_id: int) -> Tag:
    tag = Tag.objects.filter(pk=tag_id).first()
    if tag is None:
        raise ServiceError(_("No such tag."), code="not_found", field="tag")
    return tag


def tags_list() -> QuerySet[Tag]:
    return Tag.objects.order_by("name")


# --- The dashboard's lists and threads --------------------------------------------------------------

PAGE_SIZE = 50
THREAD_PAGE_SIZE = 100
EXCERPT_LENGTH = 120


def with_row_details(conversations: QuerySet[Conversation], agent: Agent) -> QuerySet[Conversation]:
    """Everything a list row shows, in the list's own query: the last message's excerpt and author,
    and how many visitor messages came after the agent last read the conversation."""
    last_message = Message.objects.filter(conversation=OuterRef("pk")).order_by("-id")
    read_up_to = ConversationRead.objects.filter(agent=agent, conversation=OuterRef("pk")).values(
        "last_read_message_id"
    )[:1]
    unread = (
        Message.objects.filter(
            conversation=OuterRef("pk"), author=Message.Author.VISITOR, id__gt=OuterRef("read_up_to")
        )
        .order_by()
        .values("conversation")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        conversations.select_related("visitor", "assignee", "group")
        .prefetch_related("tags")
        .annotate(
            excerpt=Subquery(last_message.values(excerpt=Left("body", EXCERPT_LENGTH))[:1]),
            excerpt_author=Subquery(last_message.values("author")[:1]),
            read_up_to=Coalesce(Subquery(read_up_to), Value(0), output_field=IntegerField()),
        )
        .annotate(unread_count=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)))
    )


@dataclass
class Page:
    rows: list
    next_cursor: str | None


def _cursor_of(moment: datetime | None, pk: int) -> str:
    return f"{moment.isoformat() if moment else ''}~{pk}"


def _parse_cursor(cursor: str | None) -> tuple[datetime | None, int] | None:
    if not cursor:
        return None
    moment, _sep, pk = cursor.rpartition("~")
    if not pk.isdigit() or (moment and parse_datetime(moment) is None):
        raise ServiceError(_("The page cursor is not valid."), field="before")
    return (parse_datetime(moment) if moment else None), int(pk)


def keyset_page(
    conversations: QuerySet[Conversation], *, field: str, cursor: str | None, size: int = PAGE_SIZE
) -> Page:
    """One page of conversations ordered by (-field, -id), after the cursor of the previous page: the
    database seeks to it through the index instead of counting past earlier pages."""
    conversations = conversations.order_by(f"-{field}", "-id")
    if (position := _parse_cursor(cursor)) is not None:
        moment, pk = position
        conversations = conversations.filter(Q(**{f"{field}__lt": moment}) | Q(**{field: moment, "id__lt": pk}))
    rows = list(conversations[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows=rows, next_cursor=_cursor_of(getattr(rows[-1], field), rows[-1].pk) if more else None)


def inbox_page(agent: Agent, tab: str, *, cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
    """A page of an Open tab, with each row's details, most recent activity first."""
    return keyset_page(
        with_row_details(inbox_conversations(agent, tab), agent), field="last_message_at", cursor=cursor, size=size
    )


def resolved_page(agent: Agent, *, cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
    """A page of the Resolved tab, the most recently resolved first."""
    return keyset_page(
        with_row_details(resolved_conversations(agent), agent), field="resolved_at", cursor=cursor, size=size
    )


def inbox_row(agent: Agent, conversation_id: int) -> Conversation | None:
    """One list row, as the list shows it (for live updates)."""
    return with_row_details(conversations_visible_to(agent).filter(pk=conversation_id), agent).first()


def tab_contains(agent: Agent, tab: str, conversation_id: int) -> bool:
    if tab == "resolved":
        return resolved_conversations(agent).filter(pk=conversation_id).exists()
    return inbox_conversations(agent, tab).filter(pk=conversation_id).exists()


@dataclass
class Thread:
    """A slice of a conversation: its messages and history events in the order they happened."""

    items: list
    oldest_message_id: int | None
    newest_message_id: int | None
    newest_event_id: int | None
    has_older: bool
    agent_names: dict
    group_names: dict


def thread_items(
    conversation: Conversation,
    *,
    before_message_id: int | None = None,
    after_message_id: int | None = None,
    after_event_id: int | None = None,
    size: int = THREAD_PAGE_SIZE,
) -> Thread:
    """The last `size` messages (or those before / after a message id) with the history events of
    the same stretch of time, oldest first. Two queries, whatever the length of the conversation (and
    one for the files of the messages, per channel that keeps files)."""
    messages = Message.objects.filter(conversation=conversation).select_related("agent")
    has_older = False
    if after_message_id is not None:
        picked = list(messages.filter(id__gt=after_message_id).order_by("id")[:500])
    else:
        if before_message_id is not None:
            messages = messages.filter(id__lt=before_message_id)
        picked = list(messages.order_by("-id")[: size + 1])
        has_older = len(picked) > size
        picked = list(reversed(picked[:size]))
    events = ConversationEvent.objects.filter(conversation=conversation).select_related("actor")
    if after_event_id is not None:
        events = events.filter(id__gt=after_event_id)
    elif after_message_id is None:
        # The events of this stretch: from the first shown message on (all of them on the last page).
        if has_older and picked:
            events = events.filter(created_at__gte=picked[0].created_at)
        if before_message_id is not None:
            newer = Message.objects.filter(pk=before_message_id).values("created_at")[:1]
            events = events.filter(created_at__lt=Subquery(newer))
    else:
        events = events.none()
    events = list(events.order_by("id")[:500])
    with_files(picked)
    items = sorted(
        [("message", m.created_at, m.pk, m) for m in picked] + [("event", e.created_at, e.pk, e) for e in events],
        key=lambda item: (item[1], item[0] == "message", item[2]),
    )
    # History rows name agents and groups by id: look them all up at once.
    agent_ids = {e.data.get(key) for e in events for key in ("agent_id", "to_agent_id", "from_agent_id")}
    group_ids = {e.data.get(key) for e in events for key in ("to_group_id", "from_group_id")}
    agent_ids.discard(None)
    group_ids.discard(None)
    return Thread(
        agent_names=dict(Agent.objects.filter(pk__in=agent_ids).values_list("pk", "name")) if agent_ids else {},
        group_names=dict(AgentGroup.objects.filter(pk__in=group_ids).values_list("pk", "name")) if group_ids else {},
        items=[(kind, obj) for kind, _at, _pk, obj in items],
        oldest_message_id=picked[0].pk if picked else None,
        newest_message_id=picked[-1].pk if picked else None,
        newest_event_id=events[-1].pk if events else None,
        has_older=has_older,
    )


def with_files(messages: list[Message]) -> list[Message]:
    """Each message with `files`: what its channel kept with it (an email's attachments), in one
    query per channel that keeps files."""
    files = message_files([message.pk for message in messages])
    for message in messages:
        message.files = files.get(message.pk, [])
    return messages


def last_message_id(conversation: Conversation) -> int:
    return Message.objects.filter(conversation=conversation).order_by("-id").values_list("id", flat=True).first() or 0


# A visitor's conversations, latest first (`visitor_conversations_on`, and the services' locked read).
LATEST_FIRST = ("-created_at", "-id")


def visitor_conversations_on(*, visitor_id: int, channel: str) -> QuerySet[Conversation]:
    """A visitor's conversations on one channel, latest first: the first is the one they write in."""
    return Conversation.objects.filter(visitor_id=visitor_id, channel=channel).order_by(*LATEST_FIRST)
