"""Every change to conversations and messages. Adapters (dashboard, API, admin, consumers, channels,
tasks) call these and nothing else; refusals are raised as ServiceError."""

import functools

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import events as hub
from helpdesk import rows
from helpdesk.errors import ServiceError, refused_on_conflict
from helpdesk.models import Agent, AgentGroup
from visitors.models import Visitor

from . import events, permissions, selectors
from .masking import mask_card_numbers
from .models import Channel, Conversation, ConversationEvent, ConversationRead, Message, Tag

MAX_MESSAGE_LENGTH = 20_000
MAX_CLIENT_ID_LENGTH = 64
# As the chat box's comment field allows.
MAX_RATING_COMMENT_LENGTH = 2000


def _refuse_if(reason: str | None) -> None:
    if reason:
        raise ServiceError(reason, code="forbidden")


def _read_locked(where: str, params: list, order_by: str = "") -> Conversation | None:
    """The first conversation (alias `c`) that `where` finds, read under a row lock, so concurrent
    changes apply one after another. Its assignee (alias `a`) comes in the same query, since every
    event carries them, but only the conversation is locked.

    In SQL because every change starts here: the ORM spent about five times longer building this
    query (a join and FOR UPDATE OF) than PostgreSQL spent running it."""
    conversation, _agent, _version = _read(where, params, order_by)
    return conversation


def _read(
    where: str, params: list, order_by: str = "", *, agent_id: int | None = None, lock: bool = True
) -> tuple[Conversation | None, Agent | None, str | None]:
    """`_read_locked`, and in the same query the agent `agent_id` as stored now: None when they can no
    longer log in (the rule of `agent_who_can_log_in`), or when no conversation is found. Without
    `lock`, the conversation's version is read instead (`rows.version_sql`), for a write that holds only
    while it is unchanged."""
    selected = [rows.columns(Conversation, "c"), rows.columns(Agent, "a")]
    if agent_id is not None:
        selected.append(rows.columns(Agent, "actor"))
        params = [agent_id, True, *params]
    with rows.preparing_cursor() as cursor:
        cursor.execute(_read_sql(connection.vendor, where, order_by, agent_id is not None, lock), params)
        row = cursor.fetchone()
    if row is None:
        return None, None, None
    version = None if lock else row[-1]
    conversation, assignee, *actor = rows.from_row(row if lock else row[:-1], *selected)
    Conversation.assignee.field.set_cached_value(conversation, assignee)
    return conversation, actor[0] if actor else None, version


@functools.cache
def _read_sql(vendor: str, where: str, order_by: str, with_actor: bool, lock: bool) -> str:
    quote = connection.ops.quote_name
    agents, agent_key = quote(Agent._meta.db_table), quote(Agent._meta.pk.column)
    active = quote(Agent._meta.get_field("is_active").column)
    selected = f"{rows.columns(Conversation, 'c').sql}, {rows.columns(Agent, 'a').sql}"
    assignee_column = quote(Conversation._meta.get_field("assignee").column)
    joined = f" LEFT JOIN {agents} a ON a.{agent_key} = c.{assignee_column}"
    if with_actor:
        selected += f", {rows.columns(Agent, 'actor').sql}"
        joined += f" LEFT JOIN {agents} actor ON actor.{agent_key} = %s AND actor.{active} = %s"
    if not lock:
        selected += f", {rows.version_sql('c')}"
    sql = f"SELECT {selected} FROM {quote(Conversation._meta.db_table)} c{joined} WHERE {where} {order_by} LIMIT 1"
    if lock and connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF c"
    return sql


def _locked(conversation: Conversation) -> Conversation:
    locked = _read_locked("c.id = %s", [conversation.pk])
    if locked is None:
        raise Conversation.DoesNotExist("The conversation was deleted.")
    return locked


def _record(conversation: Conversation, kind: str, *, actor: Agent | None = None, **data) -> ConversationEvent:
    """Write a history row and publish it, with the conversation as it now is."""
    event = ConversationEvent.objects.create(conversation=conversation, kind=kind, actor=actor, data=data)
    hub.publish(
        {
            "type": f"conversation.{kind}",
            "conversation": events.conversation_payload(conversation),
            "history": events.history_payload(event),
        }
    )
    return event


@transaction.atomic
def conversation_start(
    *,
    visitor: Visitor,
    channel: str = Channel.WEB,
    page_url: str = "",
    ip_address: str | None = None,
    group: AgentGroup | None = None,
) -> Conversation:
    """A new open, unassigned conversation with a visitor."""
    if channel not in Channel.values:
        raise ServiceError(_("Unknown channel %(channel)s.") % {"channel": channel}, field="channel")
    now = timezone.now()
    conversation = Conversation.objects.create(
        visitor=visitor,
        channel=channel,
        page_url=page_url or "",
        ip_address=ip_address or visitor.ip_address,
        group=group,
        created_at=now,
        last_message_at=now,
    )
    _record(conversation, ConversationEvent.Kind.CREATED)
    return conversation


def _clean_body(body: str) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ServiceError(_("The message is empty."), field="body")
    if len(body) > MAX_MESSAGE_LENGTH:
        raise ServiceError(
            _("The message is longer than %(limit)d characters.") % {"limit": MAX_MESSAGE_LENGTH}, field="body"
        )
    return mask_card_numbers(body.strip())


def _existing_duplicate(
    conversation: Conversation, channel: str, client_id: str | None, external_id: str | None
) -> Message | None:
    # Asked on every chat message, and almost never found: in SQL (`helpdesk.rows`).
    if client_id and (
        found := rows.read_one(Message, "t.conversation_id = %s AND t.client_id = %s", [conversation.pk, client_id])
    ):
        return found
    if external_id and (found := Message.objects.filter(channel=channel, external_id=external_id).first()):
        return found
    return None


@transaction.atomic
def message_create(
    *,
    conversation: Conversation,
    author: str,
    body: str,
    agent: Agent | None = None,
    channel: str | None = None,
    client_id: str | None = None,
    external_id: str | None = None,
) -> Message:
    """Store a message, the one door every message of every channel goes through.

    Card numbers are masked before anything is saved. A repeat of a client id (within the
    conversation) or of an external id (within the channel) returns the stored message and changes
    nothing. A visitor's message reopens a resolved conversation; an agent's first reply on an
    unassigned conversation makes them its assignee; an agent's reply on another channel than the
    website is refused when that channel's reply check says why it cannot go out, else handed to the
    channel's deliverer after commit.
    """
    channel = _message_channel(conversation, author=author, agent=agent, channel=channel, external_id=external_id)
    _check_client_id(client_id)
    return _message_store(
        _locked(conversation),
        author=author,
        body=_clean_body(body),
        agent=agent,
        channel=channel,
        client_id=client_id,
        external_id=external_id,
    )


def agent_message_create(
    *, agent: Agent, conversation_id: int, body: str, client_id: str | None = None, channel: str | None = None
) -> Message:
    """An agent writes in a conversation by its id: `message_create`'s rules, with the conversation
    not found when the agent may not see it (as everywhere else). The agent is read again with the
    conversation: their rights are those stored now, not those of the moment `agent` was loaded (a
    dashboard that has been open for hours).

    Where the database can (`rows.writes_if_unchanged`), the conversation is read without its lock and
    the reply written in one statement while it is unchanged: two round trips where a transaction takes
    four. If it changed in between, or the reply makes the agent its assignee (a history event written
    with it), the reply is decided again under the lock."""
    _check_client_id(client_id)
    body = _clean_body(body)
    if rows.writes_if_unchanged() and (
        message := _agent_reply(agent, conversation_id, body, client_id, channel, lock=False)
    ):
        return message
    with transaction.atomic():
        return _agent_reply(agent, conversation_id, body, client_id, channel, lock=True)


def _agent_reply(
    agent: Agent, conversation_id: int, body: str, client_id: str | None, channel: str | None, *, lock: bool
) -> Message | None:
    conversation, agent, version = _read("c.id = %s", [conversation_id], agent_id=agent.pk, lock=lock)
    if conversation is None:
        raise ServiceError(_("No such conversation."), code="not_found")
    if agent is None:
        raise ServiceError(_("Your account cannot log in any more."), code="forbidden")
    if not permissions.can_view(agent, conversation):
        raise ServiceError(_("No such conversation."), code="not_found")
    channel = _message_channel(
        conversation, author=Message.Author.AGENT, agent=agent, channel=channel, external_id=None
    )
    return _message_store(
        conversation,
        author=Message.Author.AGENT,
        body=body,
        agent=agent,
        channel=channel,
        client_id=client_id,
        external_id=None,
        version=version,
    )


def _message_channel(
    conversation: Conversation, *, author: str, agent: Agent | None, channel: str | None, external_id: str | None
) -> str:
    """The channel the message goes through, after refusing an author, agent or channel that cannot be."""
    if author not in Message.Author.values:
        raise ServiceError(_("Unknown message author %(author)s.") % {"author": author}, field="author")
    if agent is not None and author != Message.Author.AGENT:
        raise ServiceError(_("Only an agent message has an agent."), field="agent")
    # A reply someone sent outside the helpdesk (from the Facebook page's own inbox) has no agent
    # here, but the channel's id for it; it was delivered already.
    if author == Message.Author.AGENT and agent is None and not external_id:
        raise ServiceError(_("An agent message needs its agent."), field="agent")
    channel = channel or conversation.channel
    if channel not in Channel.values:
        raise ServiceError(_("Unknown channel %(channel)s.") % {"channel": channel}, field="channel")
    return channel


def _check_client_id(client_id) -> None:
    if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID_LENGTH):
        raise ServiceError(
            _("The client id must be 1 to %(limit)d characters.") % {"limit": MAX_CLIENT_ID_LENGTH}, field="client_id"
        )


def _reply_refusal(agent: Agent, conversation: Conversation, channel: str) -> ServiceError | None:
    """Why the agent's reply cannot be stored, if it cannot."""
    if reason := permissions.why_cannot_reply(agent, conversation):
        return ServiceError(reason, code="forbidden")
    if channel != Channel.WEB and not events.has_deliverer(channel):
        return ServiceError(
            _("Replies cannot be sent through %(channel)s: that channel is not set up.")
            % {"channel": Channel(channel).label},
            code="conflict",
            field="channel",
        )
    if channel != Channel.WEB and (reason := events.reply_refusal(conversation, channel)):
        return ServiceError(reason, code="conflict", field="channel")
    return None


def _message_store(
    conversation: Conversation,
    *,
    author: str,
    body: str,
    agent: Agent | None,
    channel: str,
    client_id: str | None,
    external_id: str | None,
    version: str | None = None,
) -> Message | None:
    """Store a checked, masked message in a conversation this transaction holds locked; or, given the
    `version` an unlocked read saw, only while the conversation is still that version, in one statement
    (`rows.insert_and_update_if_unchanged`). None when that did not store it: the conversation changed,
    the message is a repeat, or it reopens the conversation or makes its agent the assignee, which
    write a history event in the same transaction. The caller then stores it under the lock."""
    unlocked = version is not None
    # A repeated client id comes from this conversation, which the write locks. On PostgreSQL the insert
    # finds it (a query less on every message) and writes nothing; elsewhere it is looked up first.
    repeat_found_by_insert = client_id is not None and external_id is None and rows.skips_duplicates()
    if not repeat_found_by_insert and (duplicate := _existing_duplicate(conversation, channel, client_id, external_id)):
        return duplicate
    if agent is not None and (refusal := _reply_refusal(agent, conversation, channel)):
        # The repeat of a reply that went out before the refusal is that reply: it is acknowledged.
        if repeat_found_by_insert and (duplicate := _existing_duplicate(conversation, channel, client_id, None)):
            return duplicate
        raise refusal

    now = timezone.now()
    delivery = Message.Delivery.PENDING if agent is not None and channel != Channel.WEB else Message.Delivery.NONE
    message = Message(
        conversation=conversation,
        author=author,
        agent=agent,
        body=body,
        channel=channel,
        client_id=client_id,
        external_id=external_id,
        delivery_status=delivery,
        created_at=now,
    )
    # A channel's message id is unique across conversations: it is stored first, to learn whether
    # another conversation's transaction stored it meanwhile.
    if external_id is not None:
        try:
            with transaction.atomic():
                rows.insert(message)
        except IntegrityError:
            if duplicate := _existing_duplicate(conversation, channel, client_id, external_id):
                return duplicate
            raise

    conversation.last_message_at = now
    fields = ["last_message_at"]
    reopened = None
    if author == Message.Author.VISITOR and not conversation.is_open:
        reopened = _reopen(conversation, by_visitor=True)
        fields += ["status", "resolved_at", "assignee"]
    joined = agent is not None and conversation.assignee_id is None
    if agent is not None:
        if conversation.first_response_at is None:
            conversation.first_response_at = now
            fields.append("first_response_at")
        if joined:
            conversation.assignee = agent
            fields.append("assignee")
    if unlocked:
        if reopened is not None or joined:
            return None
        if not rows.insert_and_update_if_unchanged(message, conversation, fields, version=version):
            return None
    elif message.pk is not None:  # stored above
        rows.update(conversation, fields)
    elif not rows.insert_and_update(message, conversation, fields, unless_duplicate=repeat_found_by_insert):
        return _existing_duplicate(conversation, channel, client_id, None)  # nothing was written

    if reopened is not None:
        _record(conversation, ConversationEvent.Kind.REOPENED, **reopened)
    if joined:
        _record(conversation, ConversationEvent.Kind.JOINED, actor=agent, agent_id=agent.pk)
    hub.publish(
        {
            "type": "message.created",
            "conversation": events.conversation_payload(conversation),
            "message": events.message_payload(message),
        }
    )
    if delivery == Message.Delivery.PENDING:
        events.schedule_delivery(message)
    return message


# Delivery only moves forward: a late "delivered" receipt never hides that the message was read.
_DELIVERY_ORDER = [Message.Delivery.PENDING, Message.Delivery.SENT, Message.Delivery.DELIVERED, Message.Delivery.READ]


@transaction.atomic
def message_set_delivery(*, message: Message, status: str, error: str = "", external_id: str | None = None) -> Message:
    """Record how far an outbound message got (sent, delivered, read) or why it failed, as its
    channel reports it; the channel's id for it (a Messenger mid, an email Message-ID) is kept so a
    later echo or reply is recognised."""
    if status not in _DELIVERY_ORDER and status != Message.Delivery.FAILED:
        raise ServiceError(_("Unknown delivery status %(status)s.") % {"status": status}, field="status")
    message = Message.objects.select_for_update().get(pk=message.pk)
    current = message.delivery_status
    if status == Message.Delivery.FAILED:
        if current in (Message.Delivery.DELIVERED, Message.Delivery.READ):
            return message  # it got there after all
    elif current in _DELIVERY_ORDER and _DELIVERY_ORDER.index(status) <= _DELIVERY_ORDER.index(current):
        return message
    message.delivery_status = status
    message.delivery_error = error if status == Message.Delivery.FAILED else ""
    fields = ["delivery_status", "delivery_error"]
    if external_id and not message.external_id:
        message.external_id = external_id
        fields.append("external_id")
    message.save(update_fields=fields)
    hub.publish(
        {
            "type": "message.updated",
            "conversation": events.conversation_payload(message.conversation),
            "message": events.message_payload(message),
        }
    )
    return message


def _latest_conversation_where(visitor: Visitor, channel: str) -> tuple[str, list, str]:
    """The conversation the visitor writes in: the first of `selectors.visitor_conversations_on`."""
    order_by = rows.order_by(Conversation, "c", selectors.LATEST_FIRST)
    return "c.visitor_id = %s AND c.channel = %s", [visitor.pk, channel], order_by


def visitor_message_create(
    *,
    visitor: Visitor,
    body: str,
    channel: str = Channel.WEB,
    conversation: Conversation | None = None,
    client_id: str | None = None,
    external_id: str | None = None,
    page_url: str = "",
    ip_address: str | None = None,
    group_id: int | None = None,
) -> Message:
    """A visitor writes: into the given conversation, else their latest one on this channel (which
    reopens if resolved), else a new conversation that their first message opens, routed to the
    agent group `group_id` while that group exists.

    As in `agent_message_create`, a message to an open conversation is first tried without the lock."""
    if conversation is not None and conversation.visitor_id != visitor.pk:
        raise ServiceError(_("That conversation belongs to someone else."), code="forbidden", field="conversation")
    if channel not in Channel.values:
        raise ServiceError(_("Unknown channel %(channel)s.") % {"channel": channel}, field="channel")
    _check_client_id(client_id)
    body = _clean_body(body)  # an empty message is refused before it opens an empty conversation
    if conversation is not None:
        where, params, order_by = "c.id = %s", [conversation.pk], ""
    else:
        where, params, order_by = _latest_conversation_where(visitor, channel)
    store = functools.partial(
        _message_store,
        author=Message.Author.VISITOR,
        body=body,
        agent=None,
        channel=channel,
        client_id=client_id,
        external_id=external_id,
    )
    if rows.writes_if_unchanged() and external_id is None:
        found, _agent, version = _read(where, params, order_by, lock=False)
        if found is not None and (message := store(found, version=version)):
            return message
    with transaction.atomic():
        if conversation is not None:
            return store(_locked(conversation))
        return store(
            _read_locked(where, params, order_by)
            or conversation_start(
                visitor=visitor,
                channel=channel,
                page_url=page_url,
                ip_address=ip_address,
                group=AgentGroup.objects.filter(pk=group_id).first() if group_id else None,
            )
        )


def _reopen(conversation: Conversation, *, by_visitor: bool) -> dict:
    """Back to open, for the caller to save: it stays with its agent only while that agent is online;
    otherwise it returns to New. Returns what the history records of it."""
    conversation.status = Conversation.Status.OPEN
    conversation.resolved_at = None
    if by_visitor and conversation.assignee is not None and not conversation.assignee.is_online:
        conversation.assignee = None
    return {"by": "visitor" if by_visitor else "agent", "assignee_id": conversation.assignee_id}


@transaction.atomic
def conversation_resolve(*, conversation: Conversation, actor: Agent) -> Conversation:
    """Close a finished conversation; only its assignee, a full-access agent or the owner may."""
    conversation = _locked(conversation)
    _refuse_if(permissions.why_cannot_resolve(actor, conversation))
    if not conversation.is_open:
        return conversation  # two clicks, or two agents at once: resolved is resolved
    conversation.status = Conversation.Status.RESOLVED
    conversation.resolved_at = timezone.now()
    conversation.save(update_fields=["status", "resolved_at"])
    _record(conversation, ConversationEvent.Kind.RESOLVED, actor=actor)
    return conversation


@transaction.atomic
def conversation_reopen(*, conversation: Conversation, actor: Agent) -> Conversation:
    """An agent opens a resolved conversation again (a visitor's message does it by itself)."""
    conversation = _locked(conversation)
    _refuse_if(permissions.why_cannot_reply(actor, conversation))
    if conversation.is_open:
        return conversation
    reopened = _reopen(conversation, by_visitor=False)
    conversation.save(update_fields=["status", "resolved_at", "assignee"])
    _record(conversation, ConversationEvent.Kind.REOPENED, actor=actor, **reopened)
    return conversation


@transaction.atomic
def conversation_join(*, conversation: Conversation, actor: Agent) -> Conversation:
    """The agent takes the conversation: it becomes theirs (and leaves New)."""
    conversation = _locked(conversation)
    _refuse_if(permissions.why_cannot_join(actor, conversation))
    if conversation.assignee_id == actor.pk:
        return conversation
    previous = conversation.assignee_id
    conversation.assignee = actor
    conversation.save(update_fields=["assignee"])
    _record(conversation, ConversationEvent.Kind.JOINED, actor=actor, agent_id=actor.pk, previous_agent_id=previous)
    return conversation


def _check_can_receive(agent: Agent) -> None:
    if not agent.is_active or not agent.can_chat:
        raise ServiceError(_("%(agent)s is inactive and cannot take conversations.") % {"agent": agent}, field="agent")


@transaction.atomic
def conversation_assign(*, conversation: Conversation, agent: Agent, actor: Agent) -> Conversation:
    """A full-access agent or the owner gives the conversation to an agent."""
    conversation = _locked(conversation)
    _refuse_if(permissions.why_cannot_assign(actor))
    _check_can_receive(agent)
    if conversation.assignee_id == agent.pk:
        return conversation
    previous = conversation.assignee_id
    conversation.assignee = agent
    conversation.save(update_fields=["assignee"])
    _record(conversation, ConversationEvent.Kind.ASSIGNED, actor=actor, agent_id=agent.pk, previous_agent_id=previous)
    return conversation


@transaction.atomic
def conversation_transfer(
    *, conversation: Conversation, actor: Agent, agent: Agent | None = None, group: AgentGroup | None = None
) -> Conversation:
    """Hand the conversation to another agent, or to a group (where it waits in New for its agents)."""
    if (agent is None) == (group is None):
        raise ServiceError(_("Transfer to either an agent or a group."), field="agent")
    conversation = _locked(conversation)
    _refuse_if(permissions.why_cannot_transfer(actor, conversation))
    data = {"from_agent_id": conversation.assignee_id, "from_group_id": conversation.group_id}
    if agent is not None:
        _check_can_receive(agent)
        if agent.pk == conversation.assignee_id:
            raise ServiceError(
                _("The conversation is already assigned to %(agent)s.") % {"agent": agent}, field="agent"
            )
        conversation.assignee = agent
        data["to_agent_id"] = agent.pk
    else:
        conversation.group = group
        conversation.assignee = None
        data["to_group_id"] = group.pk
    conversation.save(update_fields=["assignee", "group"])
    _record(conversation, ConversationEvent.Kind.TRANSFERRED, actor=actor, **data)
    return conversation


@transaction.atomic
def conversation_tag(*, conversation: Conversation, tag: Tag, actor: Agent) -> Conversation:
    _refuse_if(permissions.why_cannot_reply(actor, conversation))
    if conversation.tags.filter(pk=tag.pk).exists():
        return conversation
    conversation.tags.add(tag)
    _record(conversation, ConversationEvent.Kind.TAGGED, actor=actor, tag=tag.name, tag_id=tag.pk)
    return conversation


@transaction.atomic
def conversation_untag(*, conversation: Conversation, tag: Tag, actor: Agent) -> Conversation:
    _refuse_if(permissions.why_cannot_reply(actor, conversation))
    if not conversation.tags.filter(pk=tag.pk).exists():
        return conversation
    conversation.tags.remove(tag)
    _record(conversation, ConversationEvent.Kind.UNTAGGED, actor=actor, tag=tag.name, tag_id=tag.pk)
    return conversation


def _tag_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > Tag._meta.get_field("name").max_length:
        raise ServiceError(_("A tag name is 1 to 50 characters."), field="name")
    return name


def tag_name_clean(*, name: str, tag: Tag | None = None) -> str:
    """A tag's name: 1 to 50 characters, and no other tag has it in any letter case."""
    name = _tag_name(name)
    taken = Tag.objects.filter(name__iexact=name)
    if tag is not None:
        taken = taken.exclude(pk=tag.pk)
    if taken.exists():
        raise _tag_name_taken()
    return name


def _tag_name_taken() -> ServiceError:
    return ServiceError(_("There is a tag with this name already."), field="name", code="conflict")


@transaction.atomic
def tag_get_or_create(*, name: str, actor: Agent) -> Tag:
    """The tag with this name (in any letter case); agents with full access may create new ones."""
    name = _tag_name(name)
    if tag := Tag.objects.filter(name__iexact=name).first():
        return tag
    _refuse_if(permissions.why_cannot_create_tag(actor))
    try:
        with refused_on_conflict(_tag_name_taken()):
            return Tag.objects.create(name=name)
    except ServiceError:
        # A colleague created it a moment ago: it is the tag asked for.
        if tag := Tag.objects.filter(name__iexact=name).first():
            return tag
        raise


@transaction.atomic
def tag_create(*, name: str, actor: Agent) -> Tag:
    """Agents with full access and the owner create tags; a name is used once, in any letter case."""
    _refuse_if(permissions.why_cannot_create_tag(actor))
    name = tag_name_clean(name=name)
    with refused_on_conflict(_tag_name_taken()):
        return Tag.objects.create(name=name)


@transaction.atomic
def tag_rename(*, tag: Tag, name: str, actor: Agent) -> Tag:
    """Renaming a tag renames it on every conversation that has it; history rows keep the old name."""
    _refuse_if(permissions.why_cannot_change_tags(actor))
    tag = Tag.objects.select_for_update().get(pk=tag.pk)
    tag.name = tag_name_clean(name=name, tag=tag)
    with refused_on_conflict(_tag_name_taken()):
        tag.save(update_fields=["name"])
    return tag


@transaction.atomic
def tag_delete(*, tag: Tag, actor: Agent) -> None:
    """Deleting a tag takes it off every conversation; their history still says they were tagged."""
    _refuse_if(permissions.why_cannot_change_tags(actor))
    Tag.objects.filter(pk=tag.pk).delete()


@transaction.atomic
def conversation_rate(*, conversation: Conversation, visitor: Visitor, rating: int, comment: str = "") -> Conversation:
    """The visitor rates a resolved conversation from 1 to 5, once per resolution."""
    conversation = _locked(conversation)
    if conversation.visitor_id != visitor.pk:
        raise ServiceError(_("Only the visitor of a conversation can rate it."), code="forbidden")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ServiceError(_("The rating is a whole number from 1 to 5."), field="rating")
    if reason := permissions.why_cannot_rate(conversation):
        raise ServiceError(reason, code="conflict")
    comment = (comment or "").strip()
    if len(comment) > MAX_RATING_COMMENT_LENGTH:
        raise ServiceError(
            _("A comment is at most %(limit)d characters.") % {"limit": MAX_RATING_COMMENT_LENGTH}, field="comment"
        )
    comment = mask_card_numbers(comment)
    conversation.rating = rating
    conversation.rating_comment = comment
    conversation.rated_at = timezone.now()
    conversation.save(update_fields=["rating", "rating_comment", "rated_at"])
    _record(conversation, ConversationEvent.Kind.RATED, rating=rating, comment=comment)
    return conversation


@transaction.atomic
def conversation_mark_read(*, conversation: Conversation, agent: Agent, message_id: int | None = None) -> int:
    """The agent has read the conversation up to a message (its latest by default); a read mark
    never moves back, so a late request from an older tab changes nothing. Returns the mark."""
    if not permissions.can_view(agent, conversation):
        raise ServiceError(_("This conversation is not yours to see."), code="not_found")
    latest = Message.objects.filter(conversation=conversation).order_by("-id").values_list("id", flat=True).first()
    up_to = min(message_id, latest or 0) if message_id is not None else (latest or 0)
    mark, _created = ConversationRead.objects.select_for_update().get_or_create(
        conversation=conversation, agent=agent, defaults={"last_read_message_id": up_to}
    )
    if up_to > mark.last_read_message_id:
        mark.last_read_message_id = up_to
        mark.save(update_fields=["last_read_message_id"])
    return mark.last_read_message_id
