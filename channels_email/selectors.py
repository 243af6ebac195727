"""Reads for the email channel: a conversation's email thread and how an inbound mail finds its place."""

from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from conversations.models import Conversation
from conversations.permissions import conversations_visible_to
from helpdesk.errors import ServiceError
from helpdesk.models import Agent
from visitors.models import Visitor

from .models import EmailAttachment, ThreadedEmail


def email_thread(conversation: Conversation) -> QuerySet[ThreadedEmail]:
    """The emails of a conversation, sent and received, oldest first."""
    return ThreadedEmail.objects.filter(conversation=conversation).order_by("id")


def conversation_by_message_ids(message_ids: list[str]) -> Conversation | None:
    """The conversation of the newest email among these Message-IDs (a reply's In-Reply-To / References)."""
    if not message_ids:
        return None
    email = (
        ThreadedEmail.objects.filter(message_id_header__in=message_ids)
        .select_related("conversation__visitor")
        .order_by("-id")
        .first()
    )
    return email.conversation if email else None


def visitor_by_email(address: str) -> Visitor | None:
    """The visitor who gave this address (the most recently seen, if several did)."""
    if not address:
        return None
    return Visitor.objects.filter(email__iexact=address).order_by("-last_seen_at", "-id").first()


def email_attachments(message_ids: list[int]) -> dict[int, list[EmailAttachment]]:
    """The kept attachments of these messages, by message id, for showing them in the thread (each
    with its `conversation_id`)."""
    found: dict[int, list[EmailAttachment]] = {}
    attachments = EmailAttachment.objects.filter(message_id__in=message_ids).annotate(
        conversation_id=F("message__conversation_id")
    )
    for attachment in attachments.order_by("id"):
        found.setdefault(attachment.message_id, []).append(attachment)
    return found


def email_attachment_files(message_ids: list[int]) -> dict[int, list[dict]]:
    """The kept attachments as the dashboard's thread and the API list them (registered with `conversations`)."""
    return {
        message_id: [
            {
                "id": attachment.pk,
                "name": attachment.filename,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "url": reverse("channels_email:attachment", args=[attachment.pk]),
                "api_url": reverse("api-conversation-attachment", args=[attachment.conversation_id, attachment.pk]),
            }
            for attachment in attachments
        ]
        for message_id, attachments in email_attachments(message_ids).items()
    }


def email_attachment_for_agent(
    *, agent: Agent, attachment_id: int, conversation_id: int | None = None
) -> EmailAttachment:
    """An attachment of a conversation the agent may see (of that conversation, when given); any other
    is not found, like the conversation."""
    attachments = EmailAttachment.objects.filter(
        pk=attachment_id, message__conversation__in=conversations_visible_to(agent)
    )
    if conversation_id is not None:
        attachments = attachments.filter(message__conversation_id=conversation_id)
    attachment = attachments.first()
    if attachment is None:
        raise ServiceError(_("There is no such attachment."), code="not_found")
    return attachment
