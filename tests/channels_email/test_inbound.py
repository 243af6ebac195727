import logging

import pytest

from channels_email.addresses import reply_address
from channels_email.models import EmailAttachment, ThreadedEmail
from channels_email.selectors import email_attachments
from channels_email.services import inbound_email_receive
from conversations.models import Channel, Conversation, Message
from conversations.services import conversation_resolve
from helpdesk.errors import ServiceError

from ..factories import AgentFactory, ConversationFactory, VisitorFactory
from .conftest import SENT_MESSAGE_ID, fixture_mail, parse, raw_mail, sent_earlier, write_mail

pytestmark = pytest.mark.django_db


def test_reply_to_the_reply_address_is_stored_in_its_conversation_as_an_email_message(conversation):
    message = inbound_email_receive(mail=fixture_mail("gmail_en.eml", conversation))

    assert message.conversation == conversation
    assert message.author == Message.Author.VISITOR
    assert message.channel == Channel.EMAIL
    assert message.body == "Hi Lili,\n\nYes, the order number is 10234. I ordered the blue one, size M."
    assert message.external_id == "<CAJf3Xq9bH2mZk0r+8vN7pQeT4sW1uYcD5aLxR6oG3nE8iKjM2w@mail.gmail.com>"
    assert conversation.emails.get().direction == ThreadedEmail.Direction.RECEIVED


def test_card_number_in_an_email_is_masked(conversation):
    message = inbound_email_receive(mail=fixture_mail("outlook_en.eml", conversation))
    assert "4111 1111 1111 1111" not in message.body
    assert message.body.endswith("My card is **** **** **** 1111 if that helps.")


def test_card_numbers_in_the_subject_and_attachment_names_are_masked_too(conversation, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    mail = write_mail(to=reply_address(conversation.pk), body="See attached.")
    mail.replace_header("Subject", "Charge on 4111 1111 1111 1111")
    mail.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="card 4111111111111111.pdf")

    message = inbound_email_receive(mail=mail)

    assert ThreadedEmail.objects.get(message=message).subject == "Charge on **** **** **** 1111"
    assert EmailAttachment.objects.get(message=message).filename == "card ************1111.pdf"
    assert "4111111111111111" not in message.body and "4111 1111 1111 1111" not in message.body


def test_email_reply_reopens_a_resolved_conversation(conversation):
    agent = AgentFactory(role="full")
    conversation_resolve(conversation=conversation, actor=agent)

    inbound_email_receive(mail=fixture_mail("thunderbird_hu.eml", conversation))

    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN


def test_same_mail_delivered_twice_is_stored_once(conversation):
    first = inbound_email_receive(mail=fixture_mail("apple_en.eml", conversation))
    again = inbound_email_receive(mail=fixture_mail("apple_en.eml", conversation))
    assert again == first
    assert conversation.messages.count() == 1


def test_reply_without_the_reply_address_is_found_by_its_in_reply_to(conversation):
    sent_earlier(conversation)
    mail = parse(raw_mail("outlook_hu_html_only.eml", to="Helpdesk <support@example.com>"))

    message = inbound_email_receive(mail=mail)

    assert message.conversation == conversation
    assert message.body == "Jó napot!\n\nKöszönöm, a csomag megérkezett, minden rendben van."


def test_reply_is_found_by_references_when_in_reply_to_is_unknown(conversation):
    sent_earlier(conversation, "<first@reply.example.com>")
    mail = write_mail(
        to="support@example.com", In_Reply_To="<unknown@example.com>", References="<first@reply.example.com>"
    )
    assert inbound_email_receive(mail=mail).conversation == conversation


def test_reply_address_in_the_envelope_only_is_enough(conversation):
    mail = write_mail(to="undisclosed-recipients:;")
    message = inbound_email_receive(mail=mail, envelope_recipients=[reply_address(conversation.pk)])
    assert message.conversation == conversation


def test_new_mail_from_a_known_visitor_opens_a_conversation_for_them(visitor):
    message = inbound_email_receive(mail=write_mail(to="support@example.com", sender="VERA@example.com"))

    assert message.conversation.visitor == visitor
    assert message.conversation.channel == Channel.EMAIL
    assert message.body == "Thanks, it works now."


def test_mail_from_a_stranger_is_rejected_with_a_log_line_and_not_stored(db, caplog):
    with caplog.at_level(logging.WARNING, logger="channels_email"), pytest.raises(ServiceError) as refusal:
        inbound_email_receive(mail=write_mail(to="support@example.com", sender="stranger@example.org"))

    assert refusal.value.code == "not_found"
    assert "stranger@example.org" in caplog.text
    assert not Message.objects.exists()
    assert not Conversation.objects.exists()


def test_forged_token_is_rejected_even_from_a_known_visitor(conversation, caplog):
    other = ConversationFactory(visitor=VisitorFactory())
    signature = reply_address(other.pk).split("-")[1]
    forged = f"reply+{conversation.pk}-{signature}"
    sent_earlier(conversation)

    with caplog.at_level(logging.WARNING, logger="channels_email"), pytest.raises(ServiceError) as refusal:
        inbound_email_receive(mail=write_mail(to=forged, In_Reply_To=SENT_MESSAGE_ID))

    assert refusal.value.code == "forbidden"
    assert "Rejected email" in caplog.text
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Auto_Submitted": "auto-generated"},
        {"Precedence": "bulk"},
        {"Precedence": "auto_reply"},
        {"Precedence": "junk"},
        {"X_Autoreply": "yes"},
        {"sender": "MAILER-DAEMON@mail.example.com"},
    ],
)
def test_auto_replies_never_become_messages(conversation, headers, caplog):
    with caplog.at_level(logging.INFO, logger="channels_email"):
        result = inbound_email_receive(mail=write_mail(to=reply_address(conversation.pk), **headers))
    assert result is None
    assert "Dropped automatic email" in caplog.text
    assert not Message.objects.exists()


def test_auto_submitted_no_is_a_person(conversation):
    mail = write_mail(to=reply_address(conversation.pk), Auto_Submitted="no")
    assert inbound_email_receive(mail=mail) is not None


def test_bounce_with_an_empty_envelope_sender_is_dropped(conversation):
    mail = write_mail(to=reply_address(conversation.pk))
    assert inbound_email_receive(mail=mail, envelope_sender="") is None
    assert not Message.objects.exists()


def test_delivery_status_report_is_dropped(conversation):
    report = write_mail(to=reply_address(conversation.pk), body="Delivery to the following recipient failed.")
    report.make_mixed()
    report.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"')
    report.set_boundary("b")
    assert inbound_email_receive(mail=report) is None
    assert not Message.objects.exists()


def test_attachments_within_the_limit_are_kept_and_larger_ones_listed(conversation, settings):
    settings.EMAIL_ATTACHMENT_MAX_BYTES = 1000
    mail = write_mail(to=reply_address(conversation.pk), body="Here is the photo.")
    mail.add_attachment(b"\x89PNG" + b"x" * 500, maintype="image", subtype="png", filename="photo.png")
    mail.add_attachment(b"y" * 5000, maintype="application", subtype="pdf", filename="invoice.pdf")

    message = inbound_email_receive(mail=mail)

    attachment = EmailAttachment.objects.get(message=message)
    assert (attachment.filename, attachment.content_type, attachment.size) == ("photo.png", "image/png", 504)
    assert attachment.file.read() == b"\x89PNG" + b"x" * 500
    assert message.body == (
        "Here is the photo.\n\n"
        "Attachment: photo.png (504\xa0bytes)\n"
        "Attachment not kept, larger than 1000\xa0bytes: invoice.pdf (4.9\xa0KB)"
    )


def test_mail_with_only_an_attachment_is_stored_with_its_list(conversation):
    mail = write_mail(to=reply_address(conversation.pk), body="")
    mail.add_attachment(b"data", maintype="application", subtype="pdf", filename="scan.pdf")
    assert inbound_email_receive(mail=mail).body == "Attachment: scan.pdf (4\xa0bytes)"


def test_empty_mail_is_rejected(conversation):
    with pytest.raises(ServiceError):
        inbound_email_receive(mail=write_mail(to=reply_address(conversation.pk), body="\n"))
    assert not Message.objects.exists()


def test_kept_attachments_are_listed_by_message(conversation):
    mail = write_mail(to=reply_address(conversation.pk), body="See attached.")
    mail.add_attachment(b"data", maintype="application", subtype="pdf", filename="scan.pdf")
    message = inbound_email_receive(mail=mail)

    found = email_attachments([message.pk])

    assert [attachment.filename for attachment in found[message.pk]] == ["scan.pdf"]
