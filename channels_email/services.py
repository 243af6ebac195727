"""The email channel's writes: an agent's reply sent as an email, and a visitor's email stored as a
message of the right conversation. Messages themselves go through `conversations.services`."""

import hashlib
import logging
import re
from email.message import EmailMessage as MailMessage
from email.utils import formataddr, getaddresses, make_msgid, parseaddr

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from conversations.masking import mask_card_numbers
from conversations.models import Channel, Conversation, Message
from conversations.services import message_create, message_set_delivery, visitor_message_create
from helpdesk.errors import ServiceError
from helpdesk.models import Agent

from . import addresses, permissions, selectors
from .models import EmailAttachment, ThreadedEmail
from .reduction import html_to_text, reduce_reply

logger = logging.getLogger(__name__)

# The newest emails of a thread named in References: enough for every client to thread, short enough
# to stay far below header length limits.
MAX_REFERENCES = 20


# --- Outbound ------------------------------------------------------------------------------------


@transaction.atomic
def email_reply_create(*, conversation: Conversation, agent: Agent, body: str, client_id: str | None = None) -> Message:
    """An agent answers by email: refused when the visitor's address is unknown; else the reply is
    stored like any other and sent by the email channel's deliverer after commit."""
    if reason := permissions.why_cannot_email(conversation.visitor):
        raise ServiceError(reason, code="conflict", field="channel")
    return message_create(
        conversation=conversation,
        author=Message.Author.AGENT,
        agent=agent,
        body=body,
        channel=Channel.EMAIL,
        client_id=client_id,
    )


def _one_line(text: str) -> str:
    """A header value on one line: a visitor's subject or name must never inject headers."""
    return " ".join(str(text or "").split())


def _subject(conversation: Conversation) -> str:
    first = selectors.email_thread(conversation).exclude(subject="").first()
    if first is None:
        return _("Reply to your message")
    subject = first.subject
    return subject if re.match(r"(?i)^\s*(re|vs|aw|sv)\s*:", subject) else f"Re: {subject}"


def _sender(agent: Agent | None) -> str:
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((_one_line(agent.display_public_name) if agent else "", address or settings.DEFAULT_FROM_EMAIL))


def _outbound_entry(message: Message) -> ThreadedEmail:
    """The thread entry of this reply, made on the first attempt: a retry sends the same Message-ID, so
    a mail that did get through the first time is recognised as the same one by the visitor's client."""
    if entry := ThreadedEmail.objects.filter(message=message).first():
        return entry
    try:
        with transaction.atomic():
            return ThreadedEmail.objects.create(
                conversation=message.conversation,
                message=message,
                message_id_header=make_msgid(idstring=f"m{message.pk}", domain=settings.EMAIL_INBOUND_DOMAIN),
                direction=ThreadedEmail.Direction.SENT,
                subject=_subject(message.conversation)[:255],
            )
    except IntegrityError:  # a concurrent attempt made it first
        return ThreadedEmail.objects.get(message=message)


def email_reply_build(*, message: Message) -> EmailMultiAlternatives:
    """The email of an agent's reply: from the helpdesk's address under the agent's public name, with
    the conversation's signed reply address and threaded under its earlier emails."""
    conversation = message.conversation
    visitor = conversation.visitor
    entry = _outbound_entry(message)
    earlier = list(
        selectors.email_thread(conversation).filter(id__lt=entry.id).values_list("message_id_header", flat=True)
    )[-MAX_REFERENCES:]
    headers = {"Message-ID": entry.message_id_header}
    if earlier:
        headers["In-Reply-To"] = earlier[-1]
        headers["References"] = " ".join(earlier)
    context = {"body": message.body, "agent_name": message.agent.display_public_name if message.agent else ""}
    mail = EmailMultiAlternatives(
        subject=entry.subject,
        body=render_to_string("channels_email/reply.txt", context),
        from_email=_sender(message.agent),
        to=[formataddr((_one_line(visitor.name), visitor.email))],
        reply_to=[addresses.reply_address(conversation.pk)],
        headers=headers,
    )
    mail.attach_alternative(render_to_string("channels_email/reply.html", context), "text/html")
    return mail


def email_reply_send(*, message: Message) -> Message:
    """Send an agent's pending email reply and record it as sent; one that is no longer pending (sent
    already, or failed for good) is left alone, so running this twice sends once. Sending errors
    propagate for the caller to retry; a visitor without an address is a ServiceError."""
    message = Message.objects.select_related("conversation__visitor", "agent").get(pk=message.pk)
    if message.delivery_status != Message.Delivery.PENDING:
        return message
    if reason := permissions.why_cannot_email(message.conversation.visitor):
        raise ServiceError(reason, code="conflict", field="channel")
    mail = email_reply_build(message=message)
    # Not inside a transaction: a slow mail server must not hold the message row locked.
    mail.send(fail_silently=False)
    return message_set_delivery(
        message=message, status=Message.Delivery.SENT, external_id=mail.extra_headers["Message-ID"]
    )


def email_reply_fail(*, message: Message, reason: str) -> Message:
    """Give up on an email reply: the thread shows it failed, and why."""
    return message_set_delivery(message=message, status=Message.Delivery.FAILED, error=reason[:2000])


# --- Inbound -------------------------------------------------------------------------------------

_ROBOT_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_ROBOT_SENDERS = {"mailer-daemon", "postmaster"}
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def why_automatic(mail: MailMessage, *, envelope_sender: str | None = None) -> str | None:
    """Why this mail was written by a program (an auto-reply, a bounce, a list), or None. Such mail
    never becomes a message, so our replies and another robot's cannot answer each other forever."""
    auto_submitted = str(mail.get("Auto-Submitted", "")).strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = str(mail.get("Precedence", "")).strip().lower()
    if precedence in _ROBOT_PRECEDENCE:
        return f"Precedence: {precedence}"
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if header in mail:
            return header
    if mail.get_content_type() == "multipart/report":
        return f"delivery report ({mail.get_param('report-type') or 'unknown'})"
    sender = parseaddr(str(mail.get("From", "")))[1].lower()
    if sender.partition("@")[0] in _ROBOT_SENDERS:
        return f"sender {sender}"
    if envelope_sender is not None and envelope_sender.strip() in ("", "<>"):
        return "empty envelope sender (a bounce)"
    return None


def _message_id(mail: MailMessage) -> str:
    if found := _MESSAGE_ID.findall(str(mail.get("Message-ID", ""))):
        return found[0][:255]
    # No Message-ID (rare, and against the RFC): the same bytes delivered twice still dedupe.
    return f"<sha256.{hashlib.sha256(mail.as_bytes()).hexdigest()}@inbound.invalid>"


def _recipients(mail: MailMessage, envelope_recipients: list[str]) -> list[str]:
    headers = []
    for name in ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc"):
        headers += [str(value) for value in mail.get_all(name, [])]
    return [address for _name, address in getaddresses(list(envelope_recipients) + headers) if address]


def _new_text(mail: MailMessage) -> str:
    """What the visitor wrote: the plain-text body (else the HTML one as text), reduced."""
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):  # an unknown or lying charset: keep what can be read
        content = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
    if part.get_content_type() == "text/html":
        return reduce_reply(html_to_text(content))
    return reduce_reply(content, flowed=str(part.get_param("format", "")).lower() == "flowed")


def _attachments(mail: MailMessage) -> list[tuple[str, str, bytes]]:
    found = []
    for number, part in enumerate(mail.iter_attachments(), start=1):
        data = part.get_payload(decode=True) or b""
        name = mask_card_numbers(part.get_filename() or "") or _("attachment-%(number)d") % {"number": number}
        found.append((name, part.get_content_type(), data))
    return found


def _find_conversation(mail: MailMessage, recipients: list[str], sender: str) -> Conversation | None:
    """By the signed reply address, else by the thread, else None (a known visitor's new mail)."""
    forged = False
    for address in recipients:
        if (conversation_id := addresses.conversation_id_from_address(address)) is not None:
            if conversation := Conversation.objects.select_related("visitor").filter(pk=conversation_id).first():
                return conversation
            raise ServiceError(_("This conversation no longer exists."), code="not_found", field="recipient")
        forged = forged or addresses.looks_like_reply_address(address)
    if forged:
        raise ServiceError(_("The reply address is not valid."), code="forbidden", field="recipient")
    references = _MESSAGE_ID.findall(f"{mail.get('In-Reply-To', '')} {mail.get('References', '')}")
    return selectors.conversation_by_message_ids(references)


def _attachment_lines(kept: list[tuple[str, str, bytes]], too_large: list[tuple[str, str, bytes]]) -> str:
    lines = [
        _("Attachment: %(name)s (%(size)s)") % {"name": name, "size": filesizeformat(len(data))}
        for name, _type, data in kept
    ]
    lines += [
        _("Attachment not kept, larger than %(limit)s: %(name)s (%(size)s)")
        % {
            "name": name,
            "size": filesizeformat(len(data)),
            "limit": filesizeformat(settings.EMAIL_ATTACHMENT_MAX_BYTES),
        }
        for name, _type, data in too_large
    ]
    return "\n".join(lines)


@transaction.atomic
def inbound_email_receive(
    *, mail: MailMessage, envelope_recipients: list[str] | None = None, envelope_sender: str | None = None
) -> Message | None:
    """A visitor's email becomes a message of their conversation, reduced to what they wrote.

    The conversation is the one named by the signed reply address, else the one whose earlier email
    the mail answers (In-Reply-To / References), else a new one when the sender is a known visitor.
    Mail from robots is dropped (None); the same Message-ID twice returns the stored message; anything
    else is refused with a ServiceError (a forged reply address "forbidden", no match "not_found") and
    stored nowhere.
    """
    message_id = _message_id(mail)
    sender = parseaddr(str(mail.get("From", "")))[1].lower()
    if reason := why_automatic(mail, envelope_sender=envelope_sender):
        logger.info("Dropped automatic email %s from %s: %s", message_id, sender, reason)
        return None
    if duplicate := ThreadedEmail.objects.filter(message_id_header=message_id).select_related("message").first():
        logger.info("Ignored email %s delivered again", message_id)
        return duplicate.message

    try:
        conversation = _find_conversation(mail, _recipients(mail, envelope_recipients or []), sender)
        visitor = conversation.visitor if conversation else selectors.visitor_by_email(sender)
        if visitor is None:
            raise ServiceError(
                _("This address does not belong to a conversation."), code="not_found", field="recipient"
            )
    except ServiceError as refusal:
        logger.warning("Rejected email %s from %s: %s", message_id, sender, refusal.message)
        raise

    attachments = _attachments(mail)
    limit = settings.EMAIL_ATTACHMENT_MAX_BYTES
    kept = [attachment for attachment in attachments if len(attachment[2]) <= limit]
    too_large = [attachment for attachment in attachments if len(attachment[2]) > limit]
    body = "\n\n".join(part for part in (_new_text(mail), _attachment_lines(kept, too_large)) if part)
    try:
        message = visitor_message_create(
            visitor=visitor, conversation=conversation, body=body, channel=Channel.EMAIL, external_id=message_id
        )
    except ServiceError as refusal:
        logger.warning("Rejected email %s from %s: %s", message_id, sender, refusal.message)
        raise
    # Kept for threading and shown in the admin: masked like the message itself.
    subject = mask_card_numbers(_one_line(mail.get("Subject", "")))[:255]
    _entry, created = ThreadedEmail.objects.get_or_create(
        message_id_header=message_id,
        defaults={
            "conversation": message.conversation,
            "message": message,
            "direction": ThreadedEmail.Direction.RECEIVED,
            "subject": subject,
        },
    )
    if created:
        for name, content_type, data in kept:
            attachment = EmailAttachment(
                message=message, filename=name[:255], content_type=content_type[:255], size=len(data)
            )
            attachment.file.save(get_valid_filename(name) or "attachment", ContentFile(data), save=False)
            attachment.save()
    return message
