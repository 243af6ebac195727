import pytest

from helpdesk import events as hub
from helpdesk.errors import ServiceError
from visitors import services
from visitors.events import visitor_payload

pytestmark = pytest.mark.django_db


def test_agent_edits_the_visitors_contact_details(visitor, agent):
    services.visitor_update(
        visitor=visitor, actor=agent, name=" Vera Kovács ", email="vera@kovacs.hu", phone="+36 1 234"
    )

    visitor.refresh_from_db()
    assert (visitor.name, visitor.email, visitor.phone) == ("Vera Kovács", "vera@kovacs.hu", "+36 1 234")


def test_a_change_is_published_for_live_dashboards_and_webhooks(visitor, agent, django_capture_on_commit_callbacks):
    received = []
    hub.subscribe(received.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.visitor_update(visitor=visitor, actor=agent, name="Vera K", email=visitor.email)
    finally:
        hub.unsubscribe(received.append)

    visitor.refresh_from_db()
    assert received == [
        {
            "type": "visitor.updated",
            "visitor": visitor_payload(visitor),
            "changed": ["name"],
            "actor_id": agent.pk,
        }
    ]


def test_an_invalid_email_is_refused_naming_the_field(visitor, agent):
    with pytest.raises(ServiceError) as refused:
        services.visitor_update(visitor=visitor, actor=agent, email="not-an-email")

    assert refused.value.field == "email"
    visitor.refresh_from_db()
    assert visitor.email == "vera@example.com"


def test_only_contact_fields_can_be_edited(visitor, agent):
    with pytest.raises(ServiceError):
        services.visitor_update(visitor=visitor, actor=agent, ip_address="1.2.3.4")


def test_notes_are_added_edited_and_deleted(visitor, agent, full_agent):
    note = services.visitor_note_add(visitor=visitor, author=agent, body="Prefers email")
    services.visitor_note_edit(note=note, actor=full_agent, body="Prefers phone")

    assert [n.body for n in visitor.notes.all()] == ["Prefers phone"]
    services.visitor_note_delete(note=note, actor=agent)
    assert not visitor.notes.exists()


def test_a_limited_colleague_reads_a_note_but_cannot_change_it(visitor, agent, colleague):
    note = services.visitor_note_add(visitor=visitor, author=agent, body="Prefers email")

    with pytest.raises(ServiceError) as refused:
        services.visitor_note_edit(note=note, actor=colleague, body="Prefers phone")
    with pytest.raises(ServiceError):
        services.visitor_note_delete(note=note, actor=colleague)

    assert refused.value.code == "forbidden"
    assert [n.body for n in visitor.notes.all()] == ["Prefers email"]


@pytest.mark.parametrize(
    "write",
    [
        lambda visitor, agent: services.visitor_update(visitor=visitor, actor=agent, name="X"),
        lambda visitor, agent: services.visitor_note_add(visitor=visitor, author=agent, body="X"),
        lambda visitor, agent: services.visitor_customer_data_set(
            visitor=visitor, actor=agent, data={"plan": {"label": "Plan", "value": "Gold"}}
        ),
    ],
)
def test_an_inactive_agent_reads_the_visitor_but_changes_nothing(visitor, write):
    from ..factories import AgentFactory

    with pytest.raises(ServiceError) as refused:
        write(visitor, AgentFactory(can_chat=False))

    assert refused.value.code == "forbidden"
    visitor.refresh_from_db()
    assert visitor.name == "Vera Visitor" and not visitor.notes.exists() and visitor.customer_data == {}


def test_an_empty_note_is_refused(visitor, agent):
    with pytest.raises(ServiceError) as refused:
        services.visitor_note_add(visitor=visitor, author=agent, body="  ")

    assert refused.value.field == "body"


def test_the_same_website_variables_again_change_and_announce_nothing(visitor, django_capture_on_commit_callbacks):
    variables = {"plan": {"label": "Plan", "value": "Gold"}}
    services.visitor_set_variables(visitor=visitor, variables=variables)
    received = []
    hub.subscribe(received.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.visitor_set_variables(visitor=visitor, variables=variables)
    finally:
        hub.unsubscribe(received.append)

    assert received == []
