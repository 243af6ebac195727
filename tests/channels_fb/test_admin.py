"""The owner connects, changes and disconnects pages in the admin; secrets are never shown back."""

import pytest

from channels_fb import services
from channels_fb.models import FacebookPage
from helpdesk.errors import ServiceError

from .factories import APP_SECRET, PAGE_ID

pytestmark = pytest.mark.django_db

ADD = "/admin/channels_fb/facebookpage/add/"


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def change_url(page: FacebookPage) -> str:
    return f"/admin/channels_fb/facebookpage/{page.pk}/change/"


def test_owner_connects_a_page_and_gets_a_generated_verify_token(owner_client):
    response = owner_client.post(
        ADD,
        {
            "page_id": PAGE_ID,
            "name": "Kávé Webshop",
            "access_token": "EAAG-new-page-token-abcd",
            "app_secret": APP_SECRET,
            "human_agent_enabled": "on",
        },
    )

    assert response.status_code == 302
    page = FacebookPage.objects.get()
    assert page.connected
    assert page.human_agent_enabled
    assert page.access_token == "EAAG-new-page-token-abcd"
    assert len(page.verify_token) >= 24


def test_connecting_without_the_app_secret_is_refused_on_the_form(owner_client):
    response = owner_client.post(ADD, {"page_id": PAGE_ID, "name": "Kávé", "access_token": "EAAG-token"})

    assert response.status_code == 200
    assert "app secret is required" in response.content.decode()
    assert not FacebookPage.objects.exists()


def test_page_id_must_be_facebooks_number(owner_client):
    response = owner_client.post(
        ADD, {"page_id": "kave-webshop", "name": "Kávé", "access_token": "t", "app_secret": "s"}
    )

    assert response.status_code == 200
    assert not FacebookPage.objects.exists()


def test_page_shows_the_webhook_url_and_verify_token_but_never_the_secrets(owner_client, page):
    html = owner_client.get(change_url(page)).content.decode()

    assert "http://127.0.0.1:8000/channels/facebook/webhook" in html
    assert page.verify_token in html
    assert page.access_token not in html
    assert page.app_secret not in html
    assert f"•••• {page.access_token[-4:]}" in html  # the masked hint


def test_the_page_list_masks_the_token(owner_client, page):
    html = owner_client.get("/admin/channels_fb/facebookpage/").content.decode()

    assert page.name in html
    assert page.access_token not in html


def test_saving_with_blank_secrets_keeps_the_stored_ones(owner_client, page):
    response = owner_client.post(
        change_url(page), {"name": "Kávé Webshop Budapest", "access_token": "", "app_secret": ""}
    )

    assert response.status_code == 302
    stored = FacebookPage.objects.get()
    assert stored.name == "Kávé Webshop Budapest"
    assert stored.access_token == page.access_token
    assert stored.app_secret == page.app_secret


def test_a_new_token_reconnects_a_page_whose_token_expired(owner_client, page):
    services.facebook_page_token_expired(page=page)

    owner_client.post(change_url(page), {"name": page.name, "access_token": "EAAG-fresh-token", "app_secret": ""})

    stored = FacebookPage.objects.get()
    assert stored.connected
    assert stored.access_token == "EAAG-fresh-token"


def test_owner_disconnects_a_page(owner_client, page):
    response = owner_client.post(
        "/admin/channels_fb/facebookpage/", {"action": "disconnect", "_selected_action": [page.pk]}
    )

    assert response.status_code == 302
    page.refresh_from_db()
    assert not page.connected
    assert page.disconnected_reason == FacebookPage.Disconnection.BY_OWNER
    assert page.disconnected_at is not None


def test_owner_connects_a_disconnected_page_again(owner_client, page, owner):
    services.facebook_page_disconnect(page=page, actor=owner)

    owner_client.post("/admin/channels_fb/facebookpage/", {"action": "reconnect", "_selected_action": [page.pk]})

    page.refresh_from_db()
    assert page.connected
    assert page.disconnected_reason == ""


def test_only_the_owner_connects_pages(full_agent):
    with pytest.raises(ServiceError) as refused:
        services.facebook_page_connect(page_id="1", name="x", access_token="t", app_secret="s", actor=full_agent)

    assert refused.value.code == "forbidden"


def test_a_page_another_owner_connects_at_the_same_moment_is_refused_on_page_id(owner, monkeypatch):
    from django.db import transaction

    saved = FacebookPage.save

    def connected_by_another_owner_first(page, *args, **kwargs):
        if not FacebookPage.objects.exists():  # stored between the service's check and its insert
            FacebookPage.objects.bulk_create([FacebookPage(page_id=PAGE_ID, name="Connected elsewhere")])
        return saved(page, *args, **kwargs)

    monkeypatch.setattr(FacebookPage, "save", connected_by_another_owner_first)

    with transaction.atomic():
        with pytest.raises(ServiceError) as refused:
            services.facebook_page_connect(
                page_id=PAGE_ID, name="Kávé", access_token="EAAG-token", app_secret=APP_SECRET, actor=owner
            )
        stored = FacebookPage.objects.filter(name="Kávé").exists()  # the transaction is still usable

    assert (refused.value.field, refused.value.code) == ("page_id", "conflict")
    assert not stored


def test_the_webhook_deliveries_are_listed_for_the_owner(owner_client):
    assert owner_client.get("/admin/channels_fb/webhookdelivery/").status_code == 200


def test_owner_has_failed_deliveries_processed_again_from_the_list(owner_client, page):
    from channels_fb.models import WebhookDelivery

    failed = WebhookDelivery.objects.create(body_sha256="0" * 64, body="{}", status=WebhookDelivery.Status.FAILED)

    response = owner_client.post(
        "/admin/channels_fb/webhookdelivery/", {"action": "process_again", "_selected_action": [failed.pk]}
    )

    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == WebhookDelivery.Status.RECEIVED  # processing follows after commit


def test_the_add_page_already_shows_the_webhook_url(owner_client):
    assert "http://127.0.0.1:8000/channels/facebook/webhook" in owner_client.get(ADD).content.decode()


def test_a_page_connected_by_someone_else_meanwhile_is_refused_on_the_form(owner_client, monkeypatch):
    """Another owner connects the same page between this form's checks and its save."""
    from channels_fb.admin import FacebookPageForm

    checked = FacebookPageForm.clean

    def clean_then_connected_elsewhere(form):
        cleaned = checked(form)
        if not FacebookPage.objects.exists():
            FacebookPage.objects.create(page_id=PAGE_ID, name="Connected elsewhere", access_token="t", app_secret="s")
        return cleaned

    monkeypatch.setattr(FacebookPageForm, "clean", clean_then_connected_elsewhere)

    response = owner_client.post(
        ADD, {"page_id": PAGE_ID, "name": "Kávé", "access_token": "EAAG-token", "app_secret": APP_SECRET}
    )

    assert response.status_code == 200
    assert "This page is connected already." in response.content.decode()
    assert list(FacebookPage.objects.values_list("name", flat=True)) == ["Connected elsewhere"]
