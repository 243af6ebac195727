"""Reads for the email channel: a conversation's email thread and how an inbound mail finds its place."""

from django.db.models import QuerySet

from conversations.models import Conversation
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
    """The kept attachments of these messages, by message id, for showing them in the thread."""
    found: dict[int, list[EmailAttachment]] = {}
    for attachment in EmailAttachment.objects.filter(message_id__in=message_ids).order_by("id"):
        found.setdefault(attachment.message_id, []).append(attachment)
    return found
