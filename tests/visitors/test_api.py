import pytest

from conversations.models import Conversation
from helpdesk import events as hub
from visitors.models import PageView, VisitorNote

from ..factories import AgentGroupFactory, ConversationFactory, VisitorFactory, api_client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/visitors/"


@pytest.fixture
def heard():
    events = []
    hub.subscribe(events.append)
    yield events
    hub.unsubscribe(events.append)


@pytest.mark.parametrize("query", ["vera", "VERA@EXAMPLE", "+36 1"])
def test_search_visitors_by_name_email_or_phone(agent, query):
    vera = VisitorFactory(name="Vera Visitor", email="vera@example.com", phone="+36 1 234 5678")
    other = VisitorFactory(name="Otto", email="otto@example.org", phone="")

    found = [v["id"] for v in api_client_for(agent).get(URL, {"q": query}).json()["results"]]

    assert vera.pk in found
    assert other.pk not in found


def test_unknown_visitor_filter_is_a_400_naming_it(agent):
    response = api_client_for(agent).get(URL, {"colour": "blue"})

    assert response.status_code == 400
    assert response.json()["field"] == "colour"


def test_retrieve_a_visitor(agent, visitor):
    assert api_client_for(agent).get(f"{URL}{visitor.pk}/").json()["email"] == "vera@example.com"


def test_unknown_visitor_is_not_found(agent):
    assert api_client_for(agent).get(f"{URL}999999/").status_code == 404


def test_update_contact_details(agent, visitor, django_capture_on_commit_callbacks, heard):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(agent).patch(f"{URL}{visitor.pk}/", {"phone": "+36 30 111 2222"}, format="json")

    assert response.json()["phone"] == "+36 30 111 2222"
    assert [e["type"] for e in heard] == ["visitor.updated"]


def test_invalid_email_is_a_400_naming_email(agent, visitor):
    response = api_client_for(agent).patch(f"{URL}{visitor.pk}/", {"email": "not-an-email"}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "email"


def test_an_integration_puts_customer_data_on_the_visitor(agent, visitor, django_capture_on_commit_callbacks, heard):
    data = {"orders": {"label": "Orders", "value": 12}, "total_spent": {"label": "Total spent", "value": "€99"}}

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(agent).put(f"{URL}{visitor.pk}/customer-data/", data, format="json")

    assert response.status_code == 200
    visitor.refresh_from_db()
    assert visitor.customer_data == data
    assert heard[-1]["type"] == "visitor.updated"
    assert heard[-1]["changed"] == ["customer_data"]


def test_customer_data_merges_and_null_removes(agent, visitor):
    visitor.customer_data = {"orders": {"label": "Orders", "value": 1}, "vip": {"label": "VIP", "value": True}}
    visitor.save()

    api_client_for(agent).patch(
        f"{URL}{visitor.pk}/customer-data/", {"orders": {"label": "Orders", "value": 2}, "vip": None}, format="json"
    )

    visitor.refresh_from_db()
    assert visitor.customer_data == {"orders": {"label": "Orders", "value": 2}}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"bad key!": {"label": "x", "value": 1}}, "customer_data.bad key!"),
        ({"orders": 12}, "customer_data.orders"),
        ({"orders": {"label": "", "value": 1}}, "customer_data.orders.label"),
        ({"orders": {"label": "Orders", "value": [1, 2]}}, "customer_data.orders.value"),
        ({"orders": {"label": "Orders", "value": "x" * 1001}}, "customer_data.orders.value"),
        ({f"k{n}": {"label": "x", "value": n} for n in range(51)}, "customer_data"),
        ([1, 2], "customer_data"),
    ],
)
def test_invalid_customer_data_is_a_400_naming_the_item(agent, visitor, data, field):
    response = api_client_for(agent).put(f"{URL}{visitor.pk}/customer-data/", data, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == field
    visitor.refresh_from_db()
    assert visitor.customer_data == {}


def test_notes_are_added_listed_edited_and_deleted(agent, visitor):
    client = api_client_for(agent)

    created = client.post(f"{URL}{visitor.pk}/notes/", {"body": "Prefers email."}, format="json").json()
    client.patch(f"{URL}{visitor.pk}/notes/{created['id']}/", {"body": "Prefers phone."}, format="json")
    listed = client.get(f"{URL}{visitor.pk}/notes/").json()
    deleted = client.delete(f"{URL}{visitor.pk}/notes/{created['id']}/")

    assert [n["body"] for n in listed] == ["Prefers phone."]
    assert deleted.status_code == 204
    assert not VisitorNote.objects.exists()


def test_page_views_newest_first(agent, visitor):
    PageView.objects.create(visitor=visitor, url="https://shop.example.com/")
    PageView.objects.create(visitor=visitor, url="https://shop.example.com/cart")

    found = api_client_for(agent).get(f"{URL}{visitor.pk}/page-views/").json()["results"]

    assert [p["url"] for p in found] == ["https://shop.example.com/cart", "https://shop.example.com/"]


def test_visitor_conversations_only_those_the_agent_may_see(agent, visitor):
    visible = ConversationFactory(visitor=visitor)
    hidden = ConversationFactory(visitor=visitor, group=AgentGroupFactory(name="Elsewhere"))

    found = [c["id"] for c in api_client_for(agent).get(f"{URL}{visitor.pk}/conversations/").json()["results"]]

    assert found == [visible.pk]
    assert hidden.pk not in found
    assert Conversation.objects.count() == 2


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("patch", "{v}/", {"name": "X"}),
        ("put", "{v}/customer-data/", {}),
        ("patch", "{v}/customer-data/", {}),
        ("post", "{v}/notes/", {"body": "x"}),
    ],
)
def test_a_read_only_key_cannot_change_visitors(owner, visitor, method, path, data):
    client = api_client_for(owner, read_only=True)

    response = getattr(client, method)(URL + path.format(v=visitor.pk), data, format="json")

    assert response.status_code == 403
