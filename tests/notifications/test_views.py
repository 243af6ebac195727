"""The notification settings section of the personal settings page."""

import pytest

from notifications.models import NotificationSettings
from notifications.selectors import notification_settings_of

pytestmark = pytest.mark.django_db

URL = "/settings/notifications/"


@pytest.fixture
def signed_in(client, agent):
    client.force_login(agent)
    return client


def test_settings_page_loads_the_notifications_section_by_url(signed_in):
    page = signed_in.get("/settings/").content.decode()

    assert f'hx-get="{URL}" hx-trigger="load"' in page


def test_section_shows_both_notifications_switched_on_by_default(signed_in):
    section = signed_in.get(URL).content.decode()

    assert 'name="offline_messages"' in section and 'name="missed_conversations"' in section
    assert section.count("checked") == 2


def test_agent_switches_off_missed_conversation_emails(signed_in, agent):
    response = signed_in.post(URL, {"offline_messages": "on"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "Your notification settings are saved." in response.content.decode()
    chosen = notification_settings_of(agent)
    assert chosen.offline_messages is True
    assert chosen.missed_conversations is False


def test_limited_agent_cannot_change_a_colleagues_notifications(signed_in, colleague):
    shown = signed_in.get(f"{URL}?agent={colleague.pk}")
    posted = signed_in.post(f"{URL}?agent={colleague.pk}", {})

    for response in (shown, posted):
        assert response.status_code == 403
        assert "Only the agent themselves or the owner" in response.content.decode()
    assert not NotificationSettings.objects.filter(agent=colleague).exists()


def test_owner_changes_an_agents_notifications(client, owner, colleague):
    client.force_login(owner)

    response = client.post(f"{URL}?agent={colleague.pk}", {"missed_conversations": "on"})

    assert response.status_code == 200
    assert notification_settings_of(colleague).offline_messages is False


def test_malformed_agent_is_refused_naming_it(signed_in):
    response = signed_in.get(f"{URL}?agent=lili")

    assert response.status_code == 400
    assert "agent must be a whole number." in response.content.decode()


def test_section_speaks_the_agents_language(signed_in, agent):
    agent.language = "hu"
    agent.save(update_fields=["language"])

    section = signed_in.get(URL).content.decode()

    assert "E-mail értesítések" in section
    assert "Kérek e-mailt, ha egy látogató ír, amíg offline vagyok." in section


def test_signed_out_visitor_is_sent_to_the_login_page(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
