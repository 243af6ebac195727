"""The admin and the dashboard's form change notification settings through the service."""

import pytest

from notifications.forms import NotificationSettingsForm
from notifications.selectors import notification_settings_of

from ..factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def agent_change_data(owner_client, agent, **inline):
    page = owner_client.get(f"/admin/helpdesk/agent/{agent.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "groups"}
    data.update({"avatar": "", "last_login": "", "date_joined": ""})
    data.update(
        {
            "notification_settings-TOTAL_FORMS": "1",
            "notification_settings-INITIAL_FORMS": "0",
            "notification_settings-MIN_NUM_FORMS": "0",
            "notification_settings-MAX_NUM_FORMS": "1",
            "notification_settings-0-agent": str(agent.pk),
            **{f"notification_settings-0-{name}": value for name, value in inline.items()},
        }
    )
    return data


def test_owner_switches_off_an_agents_missed_conversation_emails_in_the_admin(owner_client, agent):
    data = agent_change_data(owner_client, agent, offline_messages="on")

    response = owner_client.post(f"/admin/helpdesk/agent/{agent.pk}/change/", data)

    assert response.status_code == 302
    chosen = notification_settings_of(agent)
    assert (chosen.offline_messages, chosen.missed_conversations) == (True, False)


def test_the_owner_sees_sent_notifications_in_the_admin(owner_client):
    from notifications.models import Episode

    conversation = ConversationFactory()
    Episode.objects.create(
        conversation=conversation, start_message=MessageFactory(conversation=conversation), kind="missed"
    )

    assert owner_client.get("/admin/notifications/episode/").status_code == 200
    episode = Episode.objects.get()
    assert owner_client.get(f"/admin/notifications/episode/{episode.pk}/change/").status_code == 200


def test_the_personal_settings_form_saves_through_the_service(agent, colleague):
    form = NotificationSettingsForm({"offline_messages": "on"}, agent=agent)
    assert form.is_valid()
    form.save(actor=agent)
    assert notification_settings_of(agent).missed_conversations is False

    refused = NotificationSettingsForm({}, agent=agent)
    assert refused.is_valid()
    assert refused.save(actor=colleague) is None
    assert refused.errors
    assert notification_settings_of(agent).offline_messages is True


def test_the_form_starts_from_the_defaults(agent):
    form = NotificationSettingsForm(agent=agent)

    assert form["offline_messages"].value() is True
    assert form["missed_conversations"].value() is True


def test_refused_notification_settings_keep_the_agent_unchanged(owner_client, agent, monkeypatch):
    from helpdesk.errors import ServiceError
    from notifications import services

    def refused(**kwargs):
        raise ServiceError("You can change only your own notification settings.", code="forbidden")

    monkeypatch.setattr(services, "notification_settings_update", refused)
    data = agent_change_data(owner_client, agent, offline_messages="on") | {"name": "Renamed"}

    response = owner_client.post(f"/admin/helpdesk/agent/{agent.pk}/change/", data)

    assert response.status_code == 200
    assert "You can change only your own notification settings." in response.content.decode()
    agent.refresh_from_db()
    assert agent.name != "Renamed"
