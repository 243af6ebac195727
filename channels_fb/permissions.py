"""Whether an agent's reply can go out on Messenger, written once: the send task and the dashboard
(which shows the reason before the agent writes) both ask here."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.models import Channel, Conversation

from .models import FacebookPage, MessengerContact

# Messenger's reply windows, counted from the customer's last message.
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class SendPolicy:
    """How a reply may be sent: the Send API's messaging_type and, outside 24 hours, the message tag."""

    messaging_type: str
    tag: str | None = None


RESPONSE = SendPolicy("RESPONSE")
HUMAN_AGENT = SendPolicy("MESSAGE_TAG", "HUMAN_AGENT")


def contact_of(conversation: Conversation) -> MessengerContact | None:
    return MessengerContact.objects.select_related("page").filter(visitor_id=conversation.visitor_id).first()


def send_policy(contact: MessengerContact, *, now=None) -> SendPolicy | str:
    """RESPONSE within 24 hours of the customer's last message, the HUMAN_AGENT tag up to 7 days when the
    owner enabled it, else the reason the reply cannot go out."""
    page = contact.page
    if not page.connected:
        if page.disconnected_reason == FacebookPage.Disconnection.TOKEN_EXPIRED:
            return _(
                "The Facebook page %(page)s is disconnected: its access token expired. "
                "The owner must enter a new page access token in the admin."
            ) % {"page": page.name}
        return _("The Facebook page %(page)s is disconnected.") % {"page": page.name}
    last = contact.last_customer_message_at
    if last is None:
        return _("Messenger only allows replies after the customer has written to the page.")
    age = (now or timezone.now()) - last
    if age <= STANDARD_WINDOW:
        return RESPONSE
    if page.human_agent_enabled and age <= HUMAN_AGENT_WINDOW:
        return HUMAN_AGENT
    if page.human_agent_enabled:
        return _(
            "More than 7 days have passed since the customer's last message: Messenger does not allow a reply "
            "until they write again."
        )
    return _(
        "More than 24 hours have passed since the customer's last message: Messenger does not allow a reply "
        "until they write again (the owner can allow 7 days with the human agent tag)."
    )


def why_cannot_send(conversation: Conversation, *, now=None) -> str | None:
    """Why a reply in this conversation cannot go out on Messenger now, or None when it can (or the
    conversation is not a Messenger one)."""
    if conversation.channel != Channel.MESSENGER:
        return None
    contact = contact_of(conversation)
    if contact is None:
        return _("This conversation has no Messenger contact to reply to.")
    policy = send_policy(contact, now=now)
    return policy if isinstance(policy, str) else None


def why_cannot_reply_on_messenger(conversation: Conversation) -> str | None:
    """The Messenger reply check `conversations` consults before storing a reply on this channel: only a
    Messenger conversation has someone to send to, and then only when `why_cannot_send` allows it."""
    if conversation.channel != Channel.MESSENGER:
        return _("Only a Messenger conversation can be answered on Messenger.")
    return why_cannot_send(conversation)
