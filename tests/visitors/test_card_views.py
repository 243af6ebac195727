"""The visitor card beside a conversation: in-place contact edits, notes, and what it shows."""

import pytest
from django.test import Client

from helpdesk.models import Account
from visitors.models import PageView, Recording, VisitorNote

from ..factories import AgentFactory, AgentGroupFactory, ConversationFactory, VisitorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, agent):
    client.force_login(agent)
    return client


def test_card_shows_contact_location_browser_history_and_custom_data(signed_in):
    visitor = VisitorFactory(
        name="Vera Visitor",
        email="vera@example.com",
        city="Budapest",
        country="HU",
        os="Windows",
        os_version="10",
        browser="Chrome",
        browser_version="120",
        first_referrer="https://www.google.com/",
        variables={"plan": {"label": "Plan", "value": "Gold"}},
        customer_data={"orders": {"label": "Orders", "value": 7}},
    )
    PageView.objects.create(visitor=visitor, url="https://shop.example.com/checkout", title="Checkout")
    first, second = ConversationFactory(visitor=visitor), ConversationFactory(visitor=visitor)

    page = signed_in.get(f"/visitors/{visitor.pk}/card").content.decode()

    for text in ("Vera Visitor", "vera@example.com", "Budapest", "Windows 10", "Chrome 120", "www.google.com"):
        assert text in page
    assert "Checkout" in page and "Plan" in page and "Gold" in page and "Orders" in page
    assert f"#{first.pk}" in page and f"#{second.pk}" in page


def test_contact_field_is_saved_in_place(signed_in):
    visitor = VisitorFactory(name="Visitor 7")

    response = signed_in.post(f"/visitors/{visitor.pk}/contact", {"field": "email", "value": "vera@example.com"})

    assert response.status_code == 200
    assert 'value="vera@example.com"' in response.content.decode()
    visitor.refresh_from_db()
    assert visitor.email == "vera@example.com"


def test_invalid_email_is_refused_naming_the_field(signed_in):
    visitor = VisitorFactory(email="old@example.com")

    response = signed_in.post(
        f"/visitors/{visitor.pk}/contact", {"field": "email", "value": "not-an-email"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert "Enter a valid email address." in response.content.decode()
    visitor.refresh_from_db()
    assert visitor.email == "old@example.com"


def test_only_contact_fields_can_be_edited_in_place(signed_in):
    visitor = VisitorFactory()

    response = signed_in.post(f"/visitors/{visitor.pk}/contact", {"field": "external_id", "value": "x"})

    assert response.status_code == 400
    assert b'data-field="field"' in response.content


def test_notes_are_added_edited_and_deleted_with_author_and_time(signed_in, agent, colleague):
    visitor = VisitorFactory()

    added = signed_in.post(f"/visitors/{visitor.pk}/notes", {"body": "Prefers email"})
    assert "Prefers email" in added.content.decode()
    assert agent.name in added.content.decode()
    note = VisitorNote.objects.get()

    signed_in.post(f"/visitors/notes/{note.pk}/edit", {"body": "Prefers phone"})
    note.refresh_from_db()
    assert note.body == "Prefers phone"

    colleague_client = Client()
    colleague_client.force_login(colleague)
    assert "Prefers phone" in colleague_client.get(f"/visitors/{visitor.pk}/card").content.decode()

    signed_in.post(f"/visitors/notes/{note.pk}/delete")
    assert not VisitorNote.objects.exists()


def test_empty_note_is_refused(signed_in):
    visitor = VisitorFactory()

    response = signed_in.post(f"/visitors/{visitor.pk}/notes", {"body": "  "})

    assert response.status_code == 400
    assert b'data-field="body"' in response.content


def test_inactive_agent_reads_the_card_but_cannot_change_it(client):
    reader = AgentFactory(can_chat=False)
    visitor = VisitorFactory(name="Vera")
    client.force_login(reader)

    page = client.get(f"/visitors/{visitor.pk}/card").content.decode()
    response = client.post(f"/visitors/{visitor.pk}/contact", {"field": "name", "value": "Other"})

    assert "Vera" in page and "readonly" in page
    assert response.status_code == 403
    visitor.refresh_from_db()
    assert visitor.name == "Vera"
    assert client.post(f"/visitors/{visitor.pk}/notes", {"body": "x"}).status_code == 403


def test_card_needs_login(client):
    visitor = VisitorFactory()

    assert client.get(f"/visitors/{visitor.pk}/card").status_code == 302


def test_card_lists_the_visitors_finished_recordings_newest_first_with_a_link_to_play(signed_in):
    from datetime import UTC, datetime

    visitor = VisitorFactory()
    older = Recording.objects.create(
        visitor=visitor,
        session="00000000-0000-4000-8000-000000000001",
        status=Recording.Status.READY,
        started_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
        duration_ms=95_000,
        pages=["https://shop.example.com/", "https://shop.example.com/shoes"],
    )
    newer = Recording.objects.create(
        visitor=visitor,
        session="00000000-0000-4000-8000-000000000002",
        status=Recording.Status.READY,
        started_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        duration_ms=3_725_000,
        pages=["https://shop.example.com/cart"],
    )
    Recording.objects.create(visitor=visitor, session="00000000-0000-4000-8000-000000000003")  # still recording
    Recording.objects.create(visitor=VisitorFactory(), session="00000000-0000-4000-8000-000000000004", status="ready")

    page = signed_in.get(f"/visitors/{visitor.pk}/card").content.decode()

    section = page[page.index('class="recordings"') :]
    links = [f"/visitors/{visitor.pk}/recordings/{recording.pk}/" for recording in (newer, older)]
    assert all(link in section for link in links) and section.index(links[0]) < section.index(links[1])
    assert section.count("/recordings/") == 2
    assert "1:02:05" in section and "1 page" in section and "shop.example.com/cart" in section
    assert "1:35" in section and "2 pages" in section
    assert "switched off" not in section


def test_card_says_when_visits_are_not_recorded(signed_in):
    account = Account.load()
    account.recording_enabled = False
    account.save()

    page = signed_in.get(f"/visitors/{VisitorFactory().pk}/card").content.decode()

    assert "recording is switched off in the account settings" in page


def test_limited_agent_sees_only_the_visitors_conversations_they_may_see_in_the_card(client, agent):
    sales, support = AgentGroupFactory(name="Sales"), AgentGroupFactory(name="Support")
    agent.groups.set([sales])
    visitor = VisitorFactory()
    theirs = ConversationFactory(visitor=visitor, group=sales)
    unrouted = ConversationFactory(visitor=visitor)
    other_groups = ConversationFactory(visitor=visitor, group=support)
    client.force_login(agent)

    card = client.get(f"/conversations/{theirs.pk}/card/").content.decode()

    section = card[card.index('class="visitor-conversations"') :]
    assert f"#{theirs.pk}<" in section and f"#{unrouted.pk}<" in section
    assert f"#{other_groups.pk}<" not in section
    assert f"/conversations/{other_groups.pk}/" not in card


def test_full_access_agent_sees_all_the_visitors_conversations_in_the_card(client, full_agent):
    visitor = VisitorFactory()
    support = ConversationFactory(visitor=visitor, group=AgentGroupFactory(name="Support"))
    unrouted = ConversationFactory(visitor=visitor)
    client.force_login(full_agent)

    card = client.get(f"/visitors/{visitor.pk}/card").content.decode()

    assert f"#{support.pk}<" in card and f"#{unrouted.pk}<" in card
