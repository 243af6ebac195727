from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from channels_email.addresses import reply_address
from channels_email.models import ThreadedEmail

from ..live_servers import free_port  # noqa: F401  (tests import it from here)
from ..mail_server import smtp_server  # noqa: F401  (the fixture)

MAILS = Path(__file__).parent / "mails"
# The Message-ID of the helpdesk's email that every fixture mail answers.
SENT_MESSAGE_ID = "<176407230011.4242.1234567890123456789@localhost>"


def raw_mail(name: str, *, to: str = "reply+0-aaaaaaaaaaaaaaaa@localhost") -> bytes:
    """A fixture mail as its client sent it (CRLF lines, as on the wire), addressed to `to`."""
    text = (MAILS / name).read_text(encoding="utf-8").replace("REPLY_ADDRESS", to)
    return text.replace("\n", "\r\n").encode("utf-8")


def parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)


def fixture_mail(name: str, conversation) -> EmailMessage:
    return parse(raw_mail(name, to=reply_address(conversation.pk)))


def write_mail(
    *, to: str, body: str = "Thanks, it works now.", sender: str = "Vera Visitor <vera@example.com>", **headers
) -> EmailMessage:
    """A simple mail from a visitor; header names with underscores (Message_ID, Auto_Submitted)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = "Re: Reply to your message"
    mail["Message-ID"] = headers.pop("Message_ID", "<visitor-1@example.com>")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail


def sent_earlier(conversation, message_id: str = SENT_MESSAGE_ID) -> ThreadedEmail:
    """The helpdesk emailed this conversation's visitor before (the mail the fixtures answer)."""
    return ThreadedEmail.objects.create(
        conversation=conversation,
        message_id_header=message_id,
        direction=ThreadedEmail.Direction.SENT,
        subject="Reply to your message",
    )


@pytest.fixture(autouse=True)
def _email_settings(settings, tmp_path):
    settings.EMAIL_INBOUND_DOMAIN = "reply.example.com"
    settings.DEFAULT_FROM_EMAIL = "Example Shop <support@example.com>"
    settings.MEDIA_ROOT = tmp_path / "media"
