"""Live fan-out: every published event reaches the websockets that show it, and only those.

Groups are scoped, never global:
- `visitor-<id>`: the visitor's own chat boxes (all their tabs);
- `conversation-<id>`: dashboards that have the conversation open (typing; its events reach them
  through their inbox groups);
- `watch-visitor-<id>`: dashboards showing the visitor's card;
- `agent-<id>`: one agent's dashboards (their assigned conversations, whatever the group);
- `inbox-unrouted`, `inbox-group-<id>`, `inbox-full`: dashboards whose inbox lists the conversation.

The database is the source of truth; this is best effort. A client that reconnects asks for what it
missed by message id.
"""

import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from helpdesk.events import subscribe

logger = logging.getLogger(__name__)

# What a visitor may see of a conversation event: no internal ids beyond the conversation's own.
VISITOR_CONVERSATION_FIELDS = ("id", "status", "assignee", "resolved_at", "rating")
VISITOR_MESSAGE_FIELDS = ("id", "conversation_id", "author", "agent", "body", "client_id", "created_at", "channel")


def visitor_group(visitor_id: int) -> str:
    return f"visitor-{visitor_id}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation-{conversation_id}"


def visitor_watch_group(visitor_id: int) -> str:
    return f"watch-visitor-{visitor_id}"


def agent_group(agent_id: int) -> str:
    return f"agent-{agent_id}"


def inbox_group(group_id: int | None) -> str:
    return f"inbox-group-{group_id}" if group_id else "inbox-unrouted"


INBOX_FULL = "inbox-full"


def agent_inbox_groups(agent) -> list[str]:
    """The inbox groups whose events an agent's dashboard receives (their visibility, as in permissions).
    A full-access agent is in one group that gets every conversation's events, so each arrives once."""
    if agent.has_full_access:
        return [INBOX_FULL]
    return [
        inbox_group(None),
        agent_group(agent.pk),
        *(inbox_group(pk) for pk in agent.groups.values_list("pk", flat=True)),
    ]


def dashboard_groups(conversation: dict, history: dict | None = None) -> list[str]:
    """Every inbox that lists the conversation, and (after a transfer) every inbox that listed it before.
    Dashboards with the conversation open are among them: nobody may open one their inbox cannot list."""
    groups = [INBOX_FULL, inbox_group(conversation["group_id"])]
    if conversation["assignee_id"]:
        groups.append(agent_group(conversation["assignee_id"]))
    data = (history or {}).get("data", {})
    if "from_group_id" in data:
        groups.append(inbox_group(data["from_group_id"]))
    for key in ("from_agent_id", "previous_agent_id"):
        if data.get(key):
            groups.append(agent_group(data[key]))
    return list(dict.fromkeys(groups))


# What a visitor may know of an agent: the public name and picture, never the name colleagues use.
VISITOR_AGENT_FIELDS = ("id", "public_name", "avatar_url")


def _public_agent(agent: dict | None) -> dict | None:
    return {key: agent[key] for key in VISITOR_AGENT_FIELDS} if agent else None


def conversation_for_visitor(conversation: dict) -> dict:
    public = {key: conversation[key] for key in VISITOR_CONVERSATION_FIELDS}
    public["assignee"] = _public_agent(public["assignee"])
    return public


def message_for_visitor(message: dict) -> dict:
    public = {key: message[key] for key in VISITOR_MESSAGE_FIELDS}
    public["agent"] = _public_agent(public["agent"])
    return public


def for_visitor(event: dict) -> dict:
    """The event as the visitor's chat box gets it."""
    frame = {"type": event["type"]}
    if "conversation" in event:
        frame["conversation"] = conversation_for_visitor(event["conversation"])
    if "message" in event:
        frame["message"] = message_for_visitor(event["message"])
    return frame


def send_to_groups(*deliveries: tuple[list[str], dict]) -> None:
    """Send each `(groups, frame)` to the sockets in those groups, each socket once per frame, in order."""
    layer = get_channel_layer()
    if layer is None or not deliveries:
        return
    if hasattr(layer, "group_send_all_blocking"):  # not through the event loop
        layer.group_send_all_blocking(_layer_messages(deliveries))
    else:
        async_to_sync(asend_to_groups)(*deliveries)


def encode(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"))


def frame_message(frame: dict) -> dict:
    """The channel-layer message that has sockets send `frame`: encoded once here, not by each of
    the sockets it reaches."""
    return {"type": "frame.send", "text": encode(frame)}


async def asend_to_groups(*deliveries: tuple[list[str], dict]) -> None:
    """`send_to_groups` from async code (the consumers): one round trip on the production layer."""
    layer = get_channel_layer()
    if layer is None or not deliveries:
        return
    messages = _layer_messages(deliveries)
    if hasattr(layer, "group_send_all"):
        await layer.group_send_all(messages)
        return
    for groups, message in messages:
        for group in groups:
            await layer.group_send(group, message)


def _layer_messages(deliveries) -> list[tuple[list[str], dict]]:
    return [(list(dict.fromkeys(groups)), frame_message(frame)) for groups, frame in deliveries]


# Conversation events a visitor's chat box shows: messages, and the lifecycle changes it reacts to.
VISITOR_EVENTS = {
    "message.created",
    "conversation.joined",
    "conversation.assigned",
    "conversation.transferred",
    "conversation.resolved",
    "conversation.reopened",
    "conversation.rated",
}


# Visitor events that change how the inbox lists their open conversations (name, left the website).
INBOX_VISITOR_EVENTS = {"visitor.arrived", "visitor.left", "visitor.updated"}


def _open_conversations_of(visitor_id: int) -> list[dict]:
    from .models import Conversation

    return list(
        Conversation.objects.filter(visitor_id=visitor_id, status=Conversation.Status.OPEN).values(
            "id", "group_id", "assignee_id"
        )
    )


@subscribe
def fan_out(event: dict) -> None:
    kind = event["type"]
    try:
        if "conversation" in event:
            conversation = event["conversation"]
            deliveries = [(dashboard_groups(conversation, event.get("history")), event)]
            if kind in VISITOR_EVENTS:
                deliveries.append(([visitor_group(conversation["visitor_id"])], for_visitor(event)))
            send_to_groups(*deliveries)
        elif kind.startswith("visitor."):
            groups = [visitor_watch_group(event["visitor"]["id"])]
            if kind in INBOX_VISITOR_EVENTS:
                for conversation in _open_conversations_of(event["visitor"]["id"]):
                    groups += dashboard_groups(conversation)
            send_to_groups((groups, event))
    except Exception:
        # Best effort by design: the event is stored; clients catch up from the database.
        logger.exception("Live fan-out of %s failed", kind)
