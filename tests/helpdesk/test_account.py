"""The account settings: websites allowed to show the chat box, the identity secret, the admin page."""

import pytest

from helpdesk import services
from helpdesk.errors import ServiceError
from helpdesk.models import Account

pytestmark = pytest.mark.django_db


def test_allowed_origins_are_normalised_one_per_line(owner):
    account = services.account_update(
        actor=owner, allowed_origins="https://Shop.Example.com/\n\n  http://localhost:3000 \nhttps://shop.example.com"
    )

    assert account.allowed_origins == "https://shop.example.com\nhttp://localhost:3000"


@pytest.mark.parametrize(
    "line",
    ["shop.example.com", "ftp://shop.example.com", "https://shop.example.com/path", "https://a.com; script-src *"],
)
def test_a_line_that_is_not_an_origin_is_refused_naming_the_field(owner, line):
    with pytest.raises(ServiceError) as refused:
        services.account_update(actor=owner, allowed_origins=f"https://ok.example.com\n{line}")

    assert refused.value.field == "allowed_origins"
    assert "Line 2" in refused.value.message


def test_a_company_name_too_long_to_keep_is_refused_not_cut(owner):
    with pytest.raises(ServiceError) as refused:
        services.account_update(actor=owner, name="N" * 201)

    assert refused.value.field == "name"
    assert Account.load().name != "N" * 200


def test_only_the_owner_changes_the_account(full_agent):
    with pytest.raises(ServiceError) as refused:
        services.account_update(actor=full_agent, allowed_origins="https://shop.example.com")

    assert refused.value.code == "forbidden"


def test_regenerating_the_identity_secret_replaces_it(owner):
    before = Account.load().identity_secret

    after = services.account_regenerate_identity_secret(actor=owner).identity_secret

    assert after != before and len(after) >= 40


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def test_admin_account_page_shows_the_snippet_and_only_the_end_of_the_secret(owner_client, settings):
    account = Account.load()

    response = owner_client.get("/admin/helpdesk/account/", follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert f"&quot;{settings.SITE_URL}&quot;" in page
    assert account.identity_secret not in page
    assert f"•••• {account.identity_secret[-4:]}" in page
    assert owner_client.get("/admin/helpdesk/account/add/").status_code == 403


def test_admin_refuses_a_bad_origin_and_saves_good_ones(owner_client):
    url = f"/admin/helpdesk/account/{Account.load().pk}/change/"

    keep = {"recording_enabled": "on", "recording_retention_days": 30}
    refused = owner_client.post(url, {"name": "Shop", "allowed_origins": "www.example.com", **keep})
    saved = owner_client.post(url, {"name": "Shop", "allowed_origins": "https://www.example.com/", **keep})

    assert refused.status_code == 200
    assert "allowed_origins" in refused.context["adminform"].form.errors
    assert saved.status_code == 302
    assert Account.load().allowed_origins == "https://www.example.com"


def test_admin_regenerates_the_identity_secret_and_shows_the_new_one_once(owner_client):
    account = Account.load()
    url = f"/admin/helpdesk/account/{account.pk}/change/"

    response = owner_client.post(
        url, {"name": account.name, "allowed_origins": "", "recording_retention_days": 30, "_regenerate_secret": "1"}
    )

    new_secret = Account.load().identity_secret
    assert new_secret != account.identity_secret
    assert response.status_code == 200 and new_secret in response.content.decode()
    assert new_secret not in owner_client.get(url).content.decode()


def test_owner_switches_recordings_off_and_sets_how_long_they_are_kept(owner):
    from helpdesk import services
    from helpdesk.errors import ServiceError

    services.account_update(actor=owner, recording_enabled=False, recording_retention_days=7)
    with pytest.raises(ServiceError) as refused:
        services.account_update(actor=owner, recording_retention_days=0)

    account = Account.load()
    assert (account.recording_enabled, account.recording_retention_days) == (False, 7)
    assert refused.value.field == "recording_retention_days"


def test_a_refused_secret_regeneration_saves_nothing_and_says_why(owner_client, monkeypatch):
    account = Account.load()
    url = f"/admin/helpdesk/account/{account.pk}/change/"

    def refused(*, actor):
        raise ServiceError("Only the owner can change the account settings.", code="forbidden")

    monkeypatch.setattr(services, "account_regenerate_identity_secret", refused)

    response = owner_client.post(
        url, {"name": "Renamed", "allowed_origins": "", "recording_retention_days": 30, "_regenerate_secret": "1"}
    )

    assert response.status_code == 200
    assert "Only the owner can change the account settings." in response.content.decode()
    assert "was changed successfully" not in response.content.decode()
    assert Account.load().name == account.name
