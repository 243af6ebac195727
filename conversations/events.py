"""Conversation events and outbound delivery.

Services publish through the hub in `helpdesk.events` with the payloads defined here. Channels that
deliver replies elsewhere (Messenger, email) register a deliverer for their channel name, so
`conversations` never imports them. They also register a reply check: why a reply cannot go out on
their channel right now, which `message_create` enforces and the dashboard shows before the agent writes.
"""

from collections.abc import Callable
from functools import partial

from django.db import transaction

from .models import Conversation, ConversationEvent, Message

_deliverers: dict[str, Callable[[int], None]] = {}


def register_deliverer(channel: str, deliver: Callable[[int], None]) -> None:
    """`deliver(message_id)` is called after commit for each agent message sent on `channel`."""
    _deliverers[channel] = deliver


def has_deliverer(channel: str) -> bool:
    return channel in _deliverers


def schedule_delivery(message: Message) -> None:
    transaction.on_commit(partial(_deliverers[message.channel], message.pk))


_reply_checks: dict[str, Callable[[Conversation], str | None]] = {}


def register_reply_check(channel: str, check: Callable[[Conversation], str | None]) -> None:
    """`check(conversation)` says why an agent's reply cannot go out on `channel` now, or None."""
    _reply_checks[channel] = check


def reply_refusal(conversation: Conversation, channel: str) -> str | None:
    """Why a reply in this conversation cannot be sent on `channel` (a closed Messenger window, an
    unknown email address), or None; a channel without a check has nothing to refuse."""
    check = _reply_checks.get(channel)
    return check(conversation) if check else None


_message_file_readers: list[Callable[[list[int]], dict[int, list[dict]]]] = []


def register_message_files(read: Callable[[list[int]], dict[int, list[dict]]]) -> None:
    """`read(message_ids)` gives the files a channel kept with those messages (an email's
    attachments), by message id, each `{"id", "name", "content_type", "size", "url", "api_url"}`:
    `url` opens it from the dashboard (the agent's session), `api_url` with an API key; both check
    who may open it."""
    if read not in _message_file_readers:
        _message_file_readers.append(read)


def message_files(message_ids: list[int]) -> dict[int, list[dict]]:
    files: dict[int, list[dict]] = {}
    if message_ids:
        for read in _message_file_readers:
            for message_id, found in read(message_ids).items():
                files.setdefault(message_id, []).extend(found)
    return files


def agent_payload(agent) -> dict | None:
    """What anyone, visitors included, may know about an agent."""
    if agent is None:
        return None
    return {
        "id": agent.pk,
        "name": agent.name,
        "public_name": agent.display_public_name,
        "avatar_url": agent.avatar.url if agent.avatar else None,
    }


def conversation_payload(conversation: Conversation) -> dict:
    return {
        "id": conversation.pk,
        "visitor_id": conversation.visitor_id,
        "channel": conversation.channel,
        "status": conversation.status,
        "assignee_id": conversation.assignee_id,
        "assignee": agent_payload(conversation.assignee),
        "group_id": conversation.group_id,
        "rating": conversation.rating,
        "created_at": conversation.created_at.isoformat(),
        "last_message_at": conversation.last_message_at.isoformat(),
        "resolved_at": conversation.resolved_at.isoformat() if conversation.resolved_at else None,
    }


def conversation_from_payload(payload: dict) -> Conversation:
    """The conversation as an event saw it, unsaved, for a subscriber that must not read it again:
    its routing (channel, status, assignee, group) and its visitor."""
    return Conversation(
        pk=payload["id"],
        visitor_id=payload["visitor_id"],
        channel=payload["channel"],
        status=payload["status"],
        assignee_id=payload["assignee_id"],
        group_id=payload["group_id"],
    )


def message_payload(message: Message) -> dict:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "author": message.author,
        "agent_id": message.agent_id,
        "agent": agent_payload(message.agent),
        "body": message.body,
        "channel": message.channel,
        "client_id": message.client_id,
        "delivery_status": message.delivery_status,
        # Why an outbound message failed (a closed Messenger window, ...), for the dashboard to show live.
        "delivery_error": message.delivery_error,
        "created_at": message.created_at.isoformat(),
    }


def history_payload(event: ConversationEvent) -> dict:
    return {
        "id": event.pk,
        "kind": event.kind,
        "actor_id": event.actor_id,
        "data": event.data,
        "created_at": event.created_at.isoformat(),
    }
