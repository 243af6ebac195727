import base64
import re

import pytest

from channels_email import permissions
from channels_email.addresses import conversation_id_from_address, reply_address
from channels_email.models import ThreadedEmail
from channels_email.services import email_reply_create, inbound_email_receive
from channels_email.tasks import send_email_reply
from conversations.models import Channel, Message
from conversations.services import message_create
from helpdesk.celery import app as celery_app
from helpdesk.errors import ServiceError

from ..factories import AgentFactory, ConversationFactory, VisitorFactory
from .conftest import fixture_mail, free_port, parse, write_mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def lili(db):
    return AgentFactory(name="Lili Limited", public_name="Lili", online=True)


def reply(conversation, agent, body, capture):
    with capture(execute=True):
        return email_reply_create(conversation=conversation, agent=agent, body=body)


def test_agent_reply_is_emailed_from_the_helpdesk_under_the_agents_public_name(
    conversation, lili, smtp_server, django_capture_on_commit_callbacks
):
    message = reply(conversation, lili, "Hello Vera,\nyour parcel left today.", django_capture_on_commit_callbacks)

    [envelope] = smtp_server.envelopes
    [mail] = smtp_server.mails
    assert envelope.mail_from == "support@example.com"
    assert envelope.rcpt_tos == ["vera@example.com"]
    assert mail["From"] == "Lili <support@example.com>"
    assert mail["To"] == "Vera Visitor <vera@example.com>"
    assert mail["Subject"] == "Reply to your message"
    text = mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert text == "Hello Vera,\nyour parcel left today.\n\nLili\n\n"
    assert "Hello Vera,<br>your parcel left today." in mail.get_body(preferencelist=("html",)).get_content()
    message.refresh_from_db()
    assert message.channel == Channel.EMAIL
    assert message.delivery_status == Message.Delivery.SENT
    assert message.external_id == mail["Message-ID"]
    assert ThreadedEmail.objects.get(message=message).message_id_header == mail["Message-ID"]


def test_reply_to_is_the_conversations_signed_address(
    conversation, lili, smtp_server, django_capture_on_commit_callbacks
):
    reply(conversation, lili, "Hello", django_capture_on_commit_callbacks)

    [mail] = smtp_server.mails
    address = mail["Reply-To"].addresses[0].addr_spec
    assert re.fullmatch(r"reply\+\d+-[a-z2-7]{16}@reply\.example\.com", address)
    assert conversation_id_from_address(address) == conversation.pk
    assert re.fullmatch(r"<[^@<>]+@reply\.example\.com>", mail["Message-ID"])


def test_later_emails_thread_under_the_earlier_ones(
    conversation, lili, smtp_server, django_capture_on_commit_callbacks
):
    reply(conversation, lili, "First", django_capture_on_commit_callbacks)
    first = smtp_server.mails[0]
    visitor_reply = fixture_mail("gmail_en.eml", conversation)
    visitor_reply.replace_header("In-Reply-To", first["Message-ID"])
    inbound_email_receive(mail=visitor_reply)
    reply(conversation, lili, "Second", django_capture_on_commit_callbacks)

    second = smtp_server.mails[1]
    assert "In-Reply-To" not in first
    # (a long Message-ID is folded onto its own line, hence the strip)
    assert second["In-Reply-To"].strip() == visitor_reply["Message-ID"]
    assert second["References"].split() == [first["Message-ID"], visitor_reply["Message-ID"]]
    assert second["Subject"] == "Re: Reply to your message"


def test_email_reply_on_a_website_conversation_keeps_the_conversation_on_the_website(
    conversation, lili, smtp_server, django_capture_on_commit_callbacks
):
    message = reply(conversation, lili, "Hello", django_capture_on_commit_callbacks)
    conversation.refresh_from_db()
    assert (conversation.channel, message.channel) == (Channel.WEB, Channel.EMAIL)


def test_email_reply_is_refused_when_the_visitors_address_is_unknown(lili, smtp_server):
    conversation = ConversationFactory(visitor=VisitorFactory(email=""))
    assert permissions.why_cannot_email(conversation.visitor) is not None
    assert permissions.why_cannot_email_reply(lili, conversation) is not None
    with pytest.raises(ServiceError) as refusal:
        email_reply_create(conversation=conversation, agent=lili, body="Hello")
    assert refusal.value.field == "channel"
    assert not smtp_server.envelopes


def test_visitor_with_an_address_can_be_emailed(conversation, lili):
    assert permissions.why_cannot_email(conversation.visitor) is None
    assert permissions.why_cannot_email_reply(lili, conversation) is None


def test_sending_twice_sends_once(conversation, lili, smtp_server, django_capture_on_commit_callbacks):
    message = reply(conversation, lili, "Hello", django_capture_on_commit_callbacks)
    send_email_reply.delay(message.pk)
    assert len(smtp_server.envelopes) == 1


def test_mail_server_refusal_marks_the_message_failed_with_the_reason(
    conversation, lili, smtp_server, django_capture_on_commit_callbacks
):
    smtp_server.answer = "550 5.7.1 Mailbox unavailable"
    message = reply(conversation, lili, "Hello", django_capture_on_commit_callbacks)

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.FAILED
    assert message.delivery_error == "550 5.7.1 Mailbox unavailable"


@pytest.fixture
def retries_run_at_once():
    """Eager Celery runs a task's retries at once, one after the other, when errors do not propagate
    out of the first attempt: like a worker, minus the waiting."""
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True


def test_temporary_failure_is_retried_then_marked_failed(
    conversation, lili, smtp_server, monkeypatch, retries_run_at_once, django_capture_on_commit_callbacks
):
    attempts = []
    original = smtp_server.handle_DATA

    async def count_attempts(server, session, envelope):
        attempts.append(envelope)
        return await original(server, session, envelope)

    monkeypatch.setattr(smtp_server, "handle_DATA", count_attempts)
    smtp_server.answer = "451 4.3.0 Try again later"
    message = reply(conversation, lili, "Hello", django_capture_on_commit_callbacks)

    message.refresh_from_db()
    assert len(attempts) == 1 + send_email_reply.max_retries
    assert message.delivery_status == Message.Delivery.FAILED
    assert message.delivery_error == "451 4.3.0 Try again later"
    # Every attempt was the same email, so a copy that did arrive is recognised as one.
    assert len({parse(envelope.content)["Message-ID"] for envelope in attempts}) == 1


def test_temporary_failure_then_success_is_sent(
    conversation, lili, smtp_server, monkeypatch, retries_run_at_once, django_capture_on_commit_callbacks
):
    original = smtp_server.handle_DATA
    answers = ["451 4.3.0 Try again later", "250 OK"]

    async def flaky(server, session, envelope):
        smtp_server.answer = answers.pop(0)
        return await original(server, session, envelope)

    monkeypatch.setattr(smtp_server, "handle_DATA", flaky)
    message = reply(conversation, lili, "Hello", django_capture_on_commit_callbacks)

    message.refresh_from_db()
    assert answers == []
    assert message.delivery_status == Message.Delivery.SENT
    assert len(smtp_server.envelopes) == 1


def test_mail_server_down_is_retried_then_marked_failed(
    conversation, lili, settings, retries_run_at_once, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens there
    message = reply(conversation, lili, "Hello", django_capture_on_commit_callbacks)

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.FAILED
    assert "refused" in message.delivery_error


def test_agent_message_through_the_one_door_is_delivered_by_email(
    conversation, lili, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message_create(conversation=conversation, author="agent", agent=lili, body="Hi", channel=Channel.EMAIL)
    assert len(smtp_server.envelopes) == 1


def test_a_subject_with_a_line_break_cannot_inject_headers(
    conversation, lili, smtp_server, django_capture_on_commit_callbacks
):
    mail = write_mail(to=reply_address(conversation.pk))
    del mail["Subject"]
    mail["Subject"] = "=?utf-8?b?" + base64.b64encode(b"Order\nBcc: victim@example.org").decode() + "?="
    inbound_email_receive(mail=mail)

    message = reply(conversation, lili, "Hello", django_capture_on_commit_callbacks)

    [sent] = smtp_server.mails
    assert sent["Subject"] == "Re: Order Bcc: victim@example.org"
    assert "Bcc" not in sent
    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT
