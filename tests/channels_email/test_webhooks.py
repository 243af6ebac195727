"""The anymail inbound webhook, with a real Postmark inbound payload."""

import base64
import json
from pathlib import Path

import pytest

from channels_email.addresses import reply_address
from conversations.models import Channel, Message

pytestmark = pytest.mark.django_db

URL = "/anymail/postmark/inbound/"
SECRET = "hook-user:s3cret-pass"


def postmark_payload(to: str, **changes) -> str:
    text = (Path(__file__).parent / "postmark_inbound.json").read_text(encoding="utf-8")
    payload = json.loads(text.replace("REPLY_ADDRESS", to).replace("MAILBOX_HASH", to.split("@")[0][6:]))
    payload.update(changes)
    return json.dumps(payload)


def auth(secret: str = SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


@pytest.fixture(autouse=True)
def _postmark_inbound(settings):
    settings.EMAIL_INBOUND_ESP = "postmark"
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def post(client, body: str, **headers):
    return client.post(URL, body, content_type="application/json", **headers)


def test_reply_through_the_esp_webhook_is_stored_reduced(client, conversation):
    response = post(client, postmark_payload(reply_address(conversation.pk)), **auth())

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.conversation == conversation
    assert message.channel == Channel.EMAIL
    assert message.body == "Hi Lili,\n\nYes, the order number is 10234. I ordered the blue one, size M."
    assert message.external_id == "<CAJf3Xq9bH2mZk0r+8vN7pQeT4sW1uYcD5aLxR6oG3nE8iKjM2w@mail.gmail.com>"


def test_webhook_delivered_twice_stores_one_message(client, conversation):
    body = postmark_payload(reply_address(conversation.pk))
    assert post(client, body, **auth()).status_code == 200
    assert post(client, body, **auth()).status_code == 200
    assert Message.objects.count() == 1


def test_webhook_without_the_secret_is_refused(client, conversation):
    response = post(client, postmark_payload(reply_address(conversation.pk)), **auth("hook-user:wrong"))
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_unmatched_mail_is_answered_with_success_but_not_stored(client, db):
    response = post(
        client,
        postmark_payload(
            "nobody@reply.example.com",
            FromFull={"Email": "stranger@example.org", "Name": "", "MailboxHash": ""},
            Headers=[],
        ),
        **auth(),
    )
    assert response.status_code == 200  # the ESP must not retry a mail that will never match
    assert not Message.objects.exists()


def test_webhook_of_an_esp_that_is_not_configured_does_not_exist(client, settings, conversation):
    settings.EMAIL_INBOUND_ESP = "mailgun"
    assert post(client, postmark_payload(reply_address(conversation.pk)), **auth()).status_code == 404


def test_no_inbound_webhook_without_an_esp(client, settings, conversation):
    settings.EMAIL_INBOUND_ESP = ""
    assert post(client, postmark_payload(reply_address(conversation.pk)), **auth()).status_code == 404
