"""Facebook's webhook events, from the JSON fixtures, becoming conversations and messages."""

import json
import logging
from datetime import UTC, datetime

import pytest
import time_machine

from channels_fb import services
from channels_fb.models import MessengerContact, WebhookDelivery
from conversations import services as conversation_services
from conversations.models import Channel, Conversation, Message

from .conftest import fixture_body, fixture_payload
from .factories import PSID, FacebookPageFactory, MessengerContactFactory
from .graph_standin import PROFILE_REFUSED, TEMPORARY_ERROR

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(page, django_capture_on_commit_callbacks):
    """Store a POST's raw body as the webhook does and let Celery (eager here) process it."""

    def deliver(body: str | dict | bytes) -> WebhookDelivery:
        if isinstance(body, str):
            body = fixture_body(body)
        elif isinstance(body, dict):
            body = json.dumps(body).encode()
        with django_capture_on_commit_callbacks(execute=True):
            delivery, _ = services.webhook_delivery_store(body=body)
        delivery.refresh_from_db()
        return delivery

    return deliver


def visitor_messages():
    return list(Message.objects.filter(author=Message.Author.VISITOR).values_list("body", flat=True))


# --- Customer messages -------------------------------------------------------------------------


def test_text_message_opens_a_messenger_conversation_with_the_card_number_masked(deliver):
    delivery = deliver("message_text")

    assert delivery.status == WebhookDelivery.Status.PROCESSED
    message = Message.objects.get()
    assert message.channel == Channel.MESSENGER
    assert message.conversation.channel == Channel.MESSENGER
    assert message.external_id == fixture_payload("message_text")["entry"][0]["messaging"][0]["message"]["mid"]
    assert "4111 1111 1111 1111" not in message.body
    assert message.body.startswith("Hi! Where is my order #4411?")
    assert message.body.endswith("1111 was charged yesterday.")


def test_new_customer_becomes_a_visitor_named_from_their_profile(deliver, graph):
    deliver("message_text")

    contact = MessengerContact.objects.get()
    assert contact.psid == PSID
    assert contact.visitor.name == "Vera Vásárhelyi"
    profile_request = next(request for request in graph.requests if request.method == "GET")
    assert profile_request.path == f"/{PSID}"
    assert profile_request.query["fields"] == ["first_name,last_name"]


def test_refused_profile_lookup_leaves_the_visitor_unnamed_without_an_error(deliver, graph, caplog):
    graph.answer("GET", f"/{PSID}", PROFILE_REFUSED)

    with caplog.at_level(logging.INFO):
        delivery = deliver("message_text")

    contact = MessengerContact.objects.get()
    assert contact.visitor.name == ""
    assert contact.profile_checked_at is not None
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    ours = [record for record in caplog.records if record.name.startswith("channels_fb")]
    assert [record.levelname for record in ours if "profile" in record.getMessage()] == ["INFO"]
    assert not [record for record in ours if record.levelno >= logging.WARNING]


def test_profile_lookup_is_retried_when_facebook_has_a_passing_error(deliver, graph, retries_run_inline):
    graph.answer("GET", f"/{PSID}", TEMPORARY_ERROR)

    deliver("message_text")

    assert MessengerContact.objects.get().visitor.name == "Vera Vásárhelyi"
    assert len([request for request in graph.requests if request.method == "GET"]) == 2


def test_profile_does_not_overwrite_a_name_an_agent_gave(page, graph):
    contact = MessengerContactFactory(page=page, psid=PSID, profile_checked_at=None, visitor__name="Vera (VIP)")

    services.messenger_contact_set_profile(contact=contact, first_name="Vera", last_name="Vásárhelyi")

    contact.visitor.refresh_from_db()
    assert contact.visitor.name == "Vera (VIP)"


def test_one_visitor_per_person_and_page(deliver):
    deliver("message_text")
    deliver("message_quick_reply")
    FacebookPageFactory(page_id="200000000000001", app_secret="other")
    other_page_payload = fixture_payload("message_text")
    other_page_payload["entry"][0]["id"] = "200000000000001"
    other_page_payload["entry"][0]["messaging"][0]["message"]["mid"] = "m_other_page_1"
    deliver(other_page_payload)

    assert MessengerContact.objects.count() == 2
    assert Conversation.objects.filter(channel=Channel.MESSENGER).count() == 2
    first_page_conversation = MessengerContact.objects.get(page__page_id="104538928367250").visitor.conversations.get()
    assert first_page_conversation.messages.count() == 2


def test_attachments_become_readable_lines_with_their_links(deliver):
    deliver("message_attachments")

    body = Message.objects.get().body
    assert body.splitlines() == [
        "[image] https://scontent.xx.fbcdn.net/v/t1.15752-9/318734211_n.jpg?_nc_cat=105&ccb=1-7&_nc_sid=fc17b8&oh=03_AdTx&oe=6788A1B2",
        "[file] https://cdn.fbsbx.com/v/t59.2708-21/invoice-4411.pdf/invoice-4411.pdf?_nc_cat=109&ccb=1-7&oh=03_AdQy&oe=6788F0C3",
        "[link] Parcel tracking https://l.facebook.com/l.php?u=https%3A%2F%2Ftrack.example.com%2F4411",
    ]


def test_sticker_is_shown_as_a_sticker():
    body = services.message_body(
        {"attachments": [{"type": "image", "payload": {"url": "https://x/369239263222822.png", "sticker_id": 1}}]}
    )

    assert body == "[sticker] https://x/369239263222822.png"


def test_quick_reply_arrives_as_the_text_the_customer_tapped(deliver):
    deliver("message_quick_reply")

    assert visitor_messages() == ["Track my order"]


def test_postback_arrives_as_the_button_title(deliver):
    deliver("postback")

    message = Message.objects.get()
    assert message.body == "Get Started"
    assert message.external_id.startswith("m_Ps7bK3")


def test_customer_message_time_opens_the_reply_window(deliver):
    deliver("message_text")

    expected = datetime.fromtimestamp(1795166102117 / 1000, tz=UTC)
    assert MessengerContact.objects.get().last_customer_message_at == expected


def test_one_post_with_several_entries_and_events_stores_every_message(deliver):
    delivery = deliver("several_entries")

    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert sorted(visitor_messages()) == ["Do you ship to Debrecen?", "Is the blue one in stock?", "Size M please."]
    assert MessengerContact.objects.count() == 2  # the standby sender is not taken in


def test_standby_events_are_accepted_and_ignored(deliver):
    delivery = deliver("standby")

    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert not Message.objects.exists()
    assert not MessengerContact.objects.exists()


def test_a_message_delivered_twice_is_stored_once(deliver):
    deliver("message_text")
    redelivered = fixture_payload("message_text")
    redelivered["entry"][0]["time"] += 30_000  # Facebook retried: another POST, the same message

    delivery = deliver(redelivered)

    assert WebhookDelivery.objects.count() == 2
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert Message.objects.count() == 1


def test_a_processed_delivery_is_not_processed_again(deliver):
    delivery = deliver("message_text")
    Message.objects.all().delete()

    services.webhook_delivery_process(delivery=delivery)

    assert not Message.objects.exists()


def test_new_message_reopens_a_resolved_conversation(deliver, owner):
    deliver("message_text")
    conversation = Conversation.objects.get()
    conversation_services.conversation_resolve(conversation=conversation, actor=owner)

    deliver("message_quick_reply")

    conversation.refresh_from_db()
    assert conversation.is_open
    assert conversation.messages.count() == 2


def test_events_for_a_page_we_do_not_know_are_skipped(deliver):
    payload = fixture_payload("message_text")
    payload["entry"][0]["id"] = "999999999999999"

    delivery = deliver(payload)

    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert not Message.objects.exists()


def test_pages_the_owner_disconnected_take_no_messages(deliver, page, owner):
    services.facebook_page_disconnect(page=page, actor=owner)

    deliver("message_text")

    assert not Message.objects.exists()


def test_pages_whose_token_expired_still_take_customers_messages(deliver, page):
    services.facebook_page_token_expired(page=page)

    deliver("message_text")

    assert Message.objects.count() == 1


def test_one_broken_event_does_not_lose_the_others(deliver):
    payload = fixture_payload("several_entries")
    payload["entry"][0]["messaging"][0]["message"] = {"mid": "m_empty_text", "text": "   "}

    delivery = deliver(payload)

    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "message" in delivery.error
    assert sorted(visitor_messages()) == ["Do you ship to Debrecen?", "Size M please."]


# --- Echoes ------------------------------------------------------------------------------------


def test_message_sent_from_the_pages_facebook_inbox_appears_as_an_agent_message(deliver):
    deliver("message_text")

    deliver("echo_from_page_inbox")

    echo = Message.objects.get(author=Message.Author.AGENT)
    assert echo.agent is None
    assert echo.body.startswith("Hello Vera, Gábor from the shop here")
    assert echo.conversation == Message.objects.get(author=Message.Author.VISITOR).conversation
    assert echo.delivery_status == Message.Delivery.NONE


def test_echo_of_our_own_reply_is_not_stored_again(deliver):
    deliver("message_text")

    deliver("echo_of_our_reply")

    assert not Message.objects.filter(author=Message.Author.AGENT).exists()


def test_echo_without_metadata_is_recognised_by_the_mid_we_stored(deliver, agent):
    deliver("message_text")
    with time_machine.travel("2026-11-20T09:16:00Z", tick=False):  # within 24 hours of the customer's message
        reply = conversation_services.message_create(
            conversation=Conversation.objects.get(), author="agent", agent=agent, body="Your parcel is on its way."
        )
    echo = fixture_payload("echo_of_our_reply")
    echoed = echo["entry"][0]["messaging"][0]["message"]
    del echoed["metadata"]
    conversation_services.message_set_delivery(message=reply, status=Message.Delivery.SENT, external_id=echoed["mid"])

    deliver(echo)

    assert Message.objects.filter(author=Message.Author.AGENT).count() == 1


# --- Receipts ----------------------------------------------------------------------------------


@pytest.fixture
def sent_replies(deliver, agent):
    """Two replies of ours to the fixtures' customer: one before the delivery watermark, one after it."""
    deliver("message_text")
    conversation = Conversation.objects.get()
    replies = []
    for at in ["2026-11-20T09:16:00Z", "2026-11-20T09:20:00Z"]:
        with time_machine.travel(at, tick=False):
            reply = Message.objects.create(
                conversation=conversation,
                author=Message.Author.AGENT,
                agent=agent,
                body="On its way",
                channel=Channel.MESSENGER,
                delivery_status=Message.Delivery.SENT,
            )
        replies.append(reply)
    return replies


def test_delivery_watermark_marks_our_earlier_replies_delivered(deliver, sent_replies):
    deliver("delivery")

    before, after = (Message.objects.get(pk=reply.pk) for reply in sent_replies)
    assert before.delivery_status == Message.Delivery.DELIVERED
    assert after.delivery_status == Message.Delivery.SENT


def test_delivery_receipt_names_a_reply_by_its_mid(deliver, sent_replies):
    later = sent_replies[1]
    Message.objects.filter(pk=later.pk).update(
        external_id=fixture_payload("delivery")["entry"][0]["messaging"][0]["delivery"]["mids"][0]
    )

    deliver("delivery")

    assert Message.objects.get(pk=later.pk).delivery_status == Message.Delivery.DELIVERED


def test_read_watermark_marks_our_replies_read(deliver, sent_replies):
    deliver("delivery")
    deliver("read")

    assert {Message.objects.get(pk=reply.pk).delivery_status for reply in sent_replies} == {Message.Delivery.READ}


def test_a_late_delivery_receipt_does_not_hide_that_a_reply_was_read(deliver, sent_replies):
    deliver("read")
    deliver("delivery")

    assert Message.objects.get(pk=sent_replies[0].pk).delivery_status == Message.Delivery.READ


def test_receipts_leave_failed_replies_failed(deliver, sent_replies):
    Message.objects.filter(pk=sent_replies[0].pk).update(delivery_status=Message.Delivery.FAILED)

    deliver("read")

    assert Message.objects.get(pk=sent_replies[0].pk).delivery_status == Message.Delivery.FAILED


def test_expired_token_found_by_the_profile_lookup_disconnects_the_page(deliver, graph, page):
    from .graph_standin import TOKEN_EXPIRED

    graph.answer("GET", f"/{PSID}", TOKEN_EXPIRED)

    deliver("message_text")

    page.refresh_from_db()
    assert page.disconnected_reason == page.Disconnection.TOKEN_EXPIRED
    assert Message.objects.count() == 1  # the customer's message is kept all the same


def test_owner_has_a_failed_delivery_processed_again(deliver, owner, django_capture_on_commit_callbacks):
    payload = fixture_payload("message_text")
    payload["entry"][0]["messaging"][0]["message"]["text"] = " "
    delivery = deliver(payload)
    assert delivery.status == WebhookDelivery.Status.FAILED
    WebhookDelivery.objects.filter(pk=delivery.pk).update(body=fixture_body("message_text").decode())
    delivery.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_delivery_process_again(delivery=delivery, actor=owner)

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert Message.objects.count() == 1


def test_entries_and_events_that_are_not_objects_are_reported_not_fatal(deliver):
    payload = fixture_payload("message_text")
    payload["entry"].insert(0, "garbage")
    payload["entry"][1]["messaging"].insert(0, 42)

    delivery = deliver(payload)

    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "not an object" in delivery.error
    assert Message.objects.count() == 1


def test_processed_deliveries_are_purged_after_the_keeping_time_and_failed_ones_stay(db):
    from datetime import timedelta

    from channels_fb.tasks import purge_webhook_deliveries

    with time_machine.travel("2026-10-01T00:00:00Z", tick=False):
        WebhookDelivery.objects.create(body_sha256="a" * 64, body="{}", status=WebhookDelivery.Status.PROCESSED)
        failed = WebhookDelivery.objects.create(body_sha256="b" * 64, body="{}", status=WebhookDelivery.Status.FAILED)
    recent = WebhookDelivery.objects.create(body_sha256="c" * 64, body="{}", status=WebhookDelivery.Status.PROCESSED)

    purge_webhook_deliveries.delay()

    assert set(WebhookDelivery.objects.all()) == {failed, recent}
    assert services.webhook_deliveries_purge(older_than=timedelta(0)) == 1
