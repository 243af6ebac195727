import json

import pytest

from channels_fb.models import WebhookDelivery
from conversations.models import Message

from .conftest import WEBHOOK, fixture_body, signature

pytestmark = pytest.mark.django_db


# --- Subscription check ------------------------------------------------------------------------


def test_subscription_check_echoes_the_challenge_for_the_pages_verify_token(client, page):
    response = client.get(
        WEBHOOK, {"hub.mode": "subscribe", "hub.verify_token": page.verify_token, "hub.challenge": "1158201444"}
    )

    assert response.status_code == 200
    assert response.content == b"1158201444"


def test_subscription_check_with_a_wrong_verify_token_is_refused(client, page):
    response = client.get(WEBHOOK, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})

    assert response.status_code == 403


def test_subscription_check_without_any_connected_page_is_refused(client, db):
    response = client.get(WEBHOOK, {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})

    assert response.status_code == 403


def test_each_page_gets_its_own_generated_verify_token(db):
    from .factories import FacebookPageFactory

    first, second = FacebookPageFactory(page_id="1"), FacebookPageFactory(page_id="2")

    assert len(first.verify_token) >= 24
    assert first.verify_token != second.verify_token


# --- Signatures --------------------------------------------------------------------------------


def test_signed_post_is_stored_raw_and_answered_at_once(post_webhook):
    response = post_webhook("message_quick_reply")

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.body.encode() == fixture_body("message_quick_reply")
    assert delivery.status == WebhookDelivery.Status.RECEIVED
    assert not Message.objects.exists()  # processing happens in Celery, after the answer


def test_a_card_number_the_customer_typed_is_never_stored_in_the_raw_delivery(post_webhook):
    post_webhook("message_text")

    stored = json.loads(WebhookDelivery.objects.get().body)
    event = stored["entry"][0]["messaging"][0]
    assert "4111 1111 1111 1111" not in event["message"]["text"]
    assert event["message"]["text"].endswith("**** **** **** 1111 was charged yesterday.")
    assert event["sender"]["id"] == "6734419186622841"  # ids are left as they came
    assert stored["entry"][0]["time"] == 1795166102455


def test_post_without_a_signature_is_refused(post_webhook):
    response = post_webhook("message_text", signed=False)

    assert response.status_code == 403
    assert response.json()["field"] == "X-Hub-Signature-256"
    assert not WebhookDelivery.objects.exists()


def test_post_signed_with_another_secret_is_refused(post_webhook):
    response = post_webhook("message_text", secret="not-the-app-secret")

    assert response.status_code == 403
    assert not WebhookDelivery.objects.exists()


def test_signature_covers_the_raw_body_not_its_json_meaning(client, page):
    body = fixture_body("message_text")
    reformatted = json.dumps(json.loads(body)).encode()  # the same JSON, other bytes

    response = client.post(
        WEBHOOK, data=reformatted, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature(body)
    )

    assert response.status_code == 403


def test_signature_without_its_sha256_prefix_is_refused(client, page):
    body = fixture_body("message_text")

    response = client.post(
        WEBHOOK,
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=signature(body).removeprefix("sha256="),
    )

    assert response.status_code == 403


def test_pages_of_two_apps_are_each_checked_with_their_own_secret(post_webhook):
    from .factories import FacebookPageFactory

    FacebookPageFactory(page_id="200000000000001", app_secret="secret-of-the-second-app")

    assert post_webhook("message_text", secret="secret-of-the-second-app").status_code == 200


def test_malformed_json_with_a_valid_signature_is_a_bad_request(post_webhook):
    response = post_webhook(b'{"object": "page", "entry": [')

    assert response.status_code == 400
    assert response.json()["field"] == "body"
    assert not WebhookDelivery.objects.exists()


def test_json_that_is_not_an_event_object_is_a_bad_request(post_webhook):
    assert post_webhook(b"[1, 2, 3]").status_code == 400
    assert post_webhook(b'{"object": "page", "entry": "x"}').status_code == 400


def test_the_same_post_delivered_twice_is_stored_once(post_webhook):
    assert post_webhook("message_text").status_code == 200
    assert post_webhook("message_text").status_code == 200

    assert WebhookDelivery.objects.count() == 1


def test_only_get_and_post_are_answered(client, page):
    assert client.put(WEBHOOK).status_code == 405


def test_a_delivered_message_reaches_the_dashboard_after_commit(post_webhook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook("message_text")

    message = Message.objects.get()
    assert message.channel == "messenger"
    assert message.author == Message.Author.VISITOR
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PROCESSED


def test_a_body_that_is_not_utf8_is_a_bad_request(post_webhook):
    assert post_webhook('{"entry": []}'.encode("utf-16")).status_code == 400
