"""What notifications hears from the event hub (after commit): visitors writing, agents replying,
conversations resolved, visitors leaving the website."""

from conversations.events import conversation_from_payload
from helpdesk.events import Event

from . import services


def on_event(event: Event) -> None:
    kind = event.get("type")
    if kind == "message.created":
        message = event["message"]
        if message["author"] == "visitor":
            services.notification_visitor_wrote(
                conversation=conversation_from_payload(event["conversation"]), message_id=message["id"]
            )
        elif message["author"] == "agent":
            services.notification_agent_replied(conversation_id=message["conversation_id"], message_id=message["id"])
    elif kind == "conversation.resolved":
        services.notification_conversation_resolved(conversation_id=event["conversation"]["id"])
    elif kind == "visitor.left":
        services.notification_visitor_left(visitor_id=event["visitor"]["id"])
