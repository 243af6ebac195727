"""Whether an agent can write to a visitor by email, written once for the composer and the services.

Whether the visitor is still on the website (and so would rather get a chat reply) is the live-chat
presence's to say; the composer offers email when this returns None and the visitor is not there.
"""

from django.utils.translation import gettext as _

from conversations.models import Conversation
from conversations.permissions import why_cannot_reply
from helpdesk.models import Agent
from visitors.models import Visitor


def why_cannot_email(visitor: Visitor) -> str | None:
    """The reason this visitor cannot be emailed (shown on the visitor card), or None."""
    if not (visitor.email or "").strip():
        return _(
            "No email address is known for this visitor: they can give one in the contact form, your website "
            "can identify them, or you can type it into the visitor card."
        )
    return None


def why_cannot_email_reply(agent: Agent, conversation: Conversation) -> str | None:
    """The reason this agent cannot answer this conversation by email, or None."""
    return why_cannot_reply(agent, conversation) or why_cannot_email(conversation.visitor)


def why_cannot_reply_by_email(conversation: Conversation) -> str | None:
    """The email reply check `conversations` consults before storing a reply on this channel."""
    return why_cannot_email(conversation.visitor)
