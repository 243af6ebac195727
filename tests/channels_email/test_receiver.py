import smtplib

import pytest

from channels_email.addresses import reply_address
from channels_email.receiver import ReceiverController
from conversations.models import Channel, Message

from ..factories import ConversationFactory, VisitorFactory
from .conftest import free_port, raw_mail, write_mail

# The receiver stores from its own thread, so the test's data must be committed for it to see.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(db):
    return ConversationFactory(visitor=VisitorFactory(name="Vera Visitor", email="vera@example.com"))


@pytest.fixture(scope="module")
def receiver():
    controller = ReceiverController(hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def lmtp_receiver():
    controller = ReceiverController(hostname="127.0.0.1", port=free_port(), lmtp=True)
    controller.start()
    yield controller
    controller.stop()


def test_reply_received_over_smtp_is_stored_reduced(receiver, conversation):
    address = reply_address(conversation.pk)
    with smtplib.SMTP(receiver.hostname, receiver.port, timeout=10) as client:
        client.sendmail("vera@example.com", [address], raw_mail("gmail_hu.eml", to=address))

    message = Message.objects.get()
    assert message.conversation == conversation
    assert message.channel == Channel.EMAIL
    assert message.body == "Szia Lili!\n\nIgen, a rendelésszám 10234. A kéket rendeltem, M-es méretben."


def test_reply_address_only_in_the_envelope_is_matched(receiver, conversation):
    with smtplib.SMTP(receiver.hostname, receiver.port, timeout=10) as client:
        client.send_message(write_mail(to="support@example.com"), to_addrs=[reply_address(conversation.pk)])
    assert Message.objects.get().conversation == conversation


def test_unmatched_mail_is_refused_with_550_and_not_stored(receiver, db):
    with (
        smtplib.SMTP(receiver.hostname, receiver.port, timeout=10) as client,
        pytest.raises(smtplib.SMTPDataError) as refusal,
    ):
        client.send_message(write_mail(to="support@example.com", sender="stranger@example.org"))
    assert refusal.value.smtp_code == 550
    assert not Message.objects.exists()


def test_forged_reply_address_is_refused_with_550(receiver, conversation):
    forged = f"reply+{conversation.pk}-aaaaaaaaaaaaaaaa@reply.example.com"
    with (
        smtplib.SMTP(receiver.hostname, receiver.port, timeout=10) as client,
        pytest.raises(smtplib.SMTPDataError) as refusal,
    ):
        client.send_message(write_mail(to=forged))
    assert refusal.value.smtp_code == 550
    assert not Message.objects.exists()


def test_auto_reply_is_accepted_and_dropped(receiver, conversation):
    mail = write_mail(to=reply_address(conversation.pk), Auto_Submitted="auto-replied", body="I am out of office.")
    with smtplib.SMTP(receiver.hostname, receiver.port, timeout=10) as client:
        client.send_message(mail)
    assert not Message.objects.exists()


def test_same_mail_delivered_twice_over_smtp_is_stored_once(receiver, conversation):
    address = reply_address(conversation.pk)
    for _attempt in range(2):
        with smtplib.SMTP(receiver.hostname, receiver.port, timeout=10) as client:
            client.sendmail("vera@example.com", [address], raw_mail("thunderbird_en.eml", to=address))
    assert Message.objects.count() == 1


def test_reply_received_over_lmtp_is_stored(lmtp_receiver, conversation):
    address = reply_address(conversation.pk)
    with smtplib.LMTP(lmtp_receiver.hostname, lmtp_receiver.port) as client:
        client.sendmail("vera@example.com", [address], raw_mail("apple_en.eml", to=address))
    assert Message.objects.get().body == "Great, thank you! I’ll wait for the courier tomorrow."
