import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIClient

from conversations.api import ConversationOutput, as_rows, rows_output
from conversations.models import Conversation, Message
from helpdesk.models import Agent
from helpdesk.services import api_key_revoke

from ..factories import AgentGroupFactory, ConversationFactory, MessageFactory, TagFactory, api_client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversations/"


def test_the_api_needs_a_key_or_a_session():
    response = APIClient().get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_wrong_key_is_refused():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer hd_123456789.not-the-secret")

    assert client.get(URL).status_code == 401


def test_a_revoked_key_stops_working(owner, full_agent):
    client = api_client_for(full_agent)
    assert client.get(URL).status_code == 200

    api_key_revoke(api_key=client.api_key, actor=owner)

    assert client.get(URL).status_code == 401


def test_a_key_of_an_agent_who_cannot_log_in_stops_working(full_agent):
    client = api_client_for(full_agent)
    Agent.objects.filter(pk=full_agent.pk).update(is_active=False)

    assert client.get(URL).status_code == 401


def test_a_key_records_its_last_use(full_agent):
    client = api_client_for(full_agent)

    client.get(URL)

    client.api_key.refresh_from_db()
    assert client.api_key.last_used_at is not None


def test_the_dashboard_session_works_too(client, full_agent):
    client.force_login(full_agent)

    assert client.get(URL).status_code == 200


def test_list_is_cursor_paginated_and_stable_while_new_conversations_arrive(full_agent):
    first, second, third = ConversationFactory(), ConversationFactory(), ConversationFactory()
    client = api_client_for(full_agent)

    page = client.get(URL, {"page_size": 2}).json()
    ConversationFactory()  # arrives between the pages
    rest = client.get(page["next"]).json()

    assert [c["id"] for c in page["results"]] == [third.pk, second.pk]
    assert [c["id"] for c in rest["results"]] == [first.pk]
    assert "count" not in page


def test_list_never_counts_the_whole_table(full_agent):
    ConversationFactory.create_batch(3)
    client = api_client_for(full_agent)

    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200

    assert not [query for query in queries.captured_queries if "COUNT(" in query["sql"].upper()]


def _listed_with_everything(client, count: int) -> tuple[list[dict], int]:
    group, tag = AgentGroupFactory(name=f"Team {count}"), TagFactory(name=f"vip-{count}")
    for _ in range(count):
        ConversationFactory(assignee=client.agent, group=group, tags=[tag], rating=4)
    with CaptureQueriesContext(connection) as queries:
        results = client.get(URL, {"rating": 4}).json()["results"]
    Conversation.objects.all().delete()
    return results, len(queries.captured_queries)


def test_a_list_reads_a_fixed_number_of_queries_however_many_conversations_it_shows(full_agent):
    client = api_client_for(full_agent)
    client.agent = full_agent
    client.get(URL)  # the key's first use is recorded once, not on every request

    _one, queries_for_one = _listed_with_everything(client, 1)
    many, queries_for_many = _listed_with_everything(client, 5)

    assert queries_for_many == queries_for_one == 4  # the key, the page, the page's people, the page's tags
    assert len(many) == 5
    shown = many[0]
    assert shown["visitor"]["name"] and "email" in shown["visitor"]
    assert shown["assignee"] == {"id": full_agent.pk, "name": full_agent.name}
    assert shown["group"]["name"] == "Team 5"
    assert [tag["name"] for tag in shown["tags"]] == ["vip-5"]
    assert (shown["rating"], shown["page_url"], shown["ip_address"]) == (4, "https://shop.example.com/", "203.0.113.7")


@pytest.mark.parametrize("complete", [True, False])
def test_a_listed_conversation_reads_exactly_as_its_declared_fields_give_it(full_agent, complete):
    tags = [TagFactory(name="vip"), TagFactory(name="angry")]
    extra = {"assignee": full_agent, "group": AgentGroupFactory(), "tags": tags, "rating": 2}
    extra |= {"resolved_at": timezone.now(), "status": Conversation.Status.RESOLVED}
    conversation = ConversationFactory(**(extra if complete else {"ip_address": None}))
    conversation = Conversation.objects.select_related("visitor", "assignee", "group").get(pk=conversation.pk)

    built = ConversationOutput(conversation).data
    generic = serializers.Serializer.to_representation(ConversationOutput(), conversation)
    [listed] = rows_output(list(as_rows(Conversation.objects.filter(pk=conversation.pk))))

    assert built == generic
    assert listed == generic
    assert list(built) == list(listed) == list(ConversationOutput().fields)
    with timezone.override("Europe/Budapest"):
        assert rows_output(list(as_rows(Conversation.objects.filter(pk=conversation.pk)))) == [
            serializers.Serializer.to_representation(ConversationOutput(), conversation)
        ]


def test_search_through_the_api(full_agent):
    five, three = ConversationFactory(rating=5), ConversationFactory(rating=3)

    found = api_client_for(full_agent).get(URL, {"rating": 5}).json()["results"]

    assert [c["id"] for c in found] == [five.pk]
    assert three.pk not in [c["id"] for c in found]


@pytest.mark.parametrize(("params", "field"), [({"colour": "blue"}, "colour"), ({"rating": "x"}, "rating")])
def test_bad_filter_is_a_400_naming_it(full_agent, params, field):
    response = api_client_for(full_agent).get(URL, params)

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["code"] == "invalid"


def test_retrieve_includes_messages(full_agent, conversation):
    MessageFactory(conversation=conversation, body="Hi!")

    body = api_client_for(full_agent).get(f"{URL}{conversation.pk}/").json()

    assert body["id"] == conversation.pk
    assert [m["body"] for m in body["messages"]] == ["Hi!"]


def test_a_conversation_the_agent_may_not_see_is_not_found(agent):
    hidden = ConversationFactory(group=AgentGroupFactory(name="Elsewhere"))

    assert api_client_for(agent).get(f"{URL}{hidden.pk}/").status_code == 404


def test_an_agent_sends_a_message(agent, conversation):
    response = api_client_for(agent).post(f"{URL}{conversation.pk}/messages/", {"body": "Hello Vera"}, format="json")

    assert response.status_code == 201
    message = Message.objects.get()
    assert (message.author, message.agent, message.body) == (Message.Author.AGENT, agent, "Hello Vera")
    conversation.refresh_from_db()
    assert conversation.assignee == agent  # the first agent to reply joins


def test_a_retried_post_with_the_same_idempotency_key_sends_once(agent, conversation):
    client = api_client_for(agent)
    url = f"{URL}{conversation.pk}/messages/"

    first = client.post(url, {"body": "Hello"}, format="json", HTTP_IDEMPOTENCY_KEY="order-42-greeting")
    again = client.post(url, {"body": "Hello"}, format="json", HTTP_IDEMPOTENCY_KEY="order-42-greeting")

    assert first.json()["id"] == again.json()["id"]
    assert Message.objects.count() == 1


def test_card_numbers_are_masked_through_the_api(agent, conversation):
    api_client_for(agent).post(f"{URL}{conversation.pk}/messages/", {"body": "4111 1111 1111 1111"}, format="json")

    assert "4111 1111 1111 1111" not in Message.objects.get().body


def test_an_empty_message_is_a_400_naming_body(agent, conversation):
    response = api_client_for(agent).post(f"{URL}{conversation.pk}/messages/", {"body": "  "}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "body"


def test_messages_are_listed_oldest_first(full_agent, conversation):
    first, second = MessageFactory(conversation=conversation), MessageFactory(conversation=conversation)

    found = api_client_for(full_agent).get(f"{URL}{conversation.pk}/messages/").json()["results"]

    assert [m["id"] for m in found] == [first.pk, second.pk]


def test_assignee_resolves_and_reopens(agent):
    conversation = ConversationFactory(assignee=agent)
    client = api_client_for(agent)

    resolved = client.post(f"{URL}{conversation.pk}/resolve/")
    reopened = client.post(f"{URL}{conversation.pk}/reopen/")

    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    assert reopened.json()["status"] == "open"


def test_limited_agent_cannot_resolve_colleagues_conversation(agent, colleague):
    conversation = ConversationFactory(assignee=colleague)

    response = api_client_for(agent).post(f"{URL}{conversation.pk}/resolve/")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN


def test_full_access_resolves_anyones_conversation(full_agent, colleague):
    conversation = ConversationFactory(assignee=colleague)

    assert api_client_for(full_agent).post(f"{URL}{conversation.pk}/resolve/").status_code == 200


def test_agent_joins_an_unassigned_conversation(agent, conversation):
    response = api_client_for(agent).post(f"{URL}{conversation.pk}/join/")

    assert response.json()["assignee"]["id"] == agent.pk


def test_limited_agent_cannot_take_over_colleagues_conversation(agent, colleague):
    conversation = ConversationFactory(assignee=colleague)

    assert api_client_for(agent).post(f"{URL}{conversation.pk}/join/").status_code == 403


def test_full_access_assigns(full_agent, agent, conversation):
    response = api_client_for(full_agent).post(f"{URL}{conversation.pk}/assign/", {"agent": agent.pk}, format="json")

    assert response.json()["assignee"]["id"] == agent.pk


def test_limited_agent_cannot_assign(agent, colleague, conversation):
    response = api_client_for(agent).post(f"{URL}{conversation.pk}/assign/", {"agent": colleague.pk}, format="json")

    assert response.status_code == 403


def test_assign_to_an_unknown_agent_is_a_400_naming_agent(full_agent, conversation):
    response = api_client_for(full_agent).post(f"{URL}{conversation.pk}/assign/", {"agent": 999999}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "agent"


def test_assignee_transfers_to_a_group(agent):
    conversation = ConversationFactory(assignee=agent)
    group = AgentGroupFactory(name="Billing")

    response = api_client_for(agent).post(f"{URL}{conversation.pk}/transfer/", {"group": group.pk}, format="json")

    assert response.json()["group"]["id"] == group.pk
    assert response.json()["assignee"] is None


def test_limited_agent_cannot_transfer_colleagues_conversation(agent, colleague, full_agent):
    conversation = ConversationFactory(assignee=colleague)

    response = api_client_for(agent).post(f"{URL}{conversation.pk}/transfer/", {"agent": full_agent.pk}, format="json")

    assert response.status_code == 403


def test_transfer_needs_an_agent_or_a_group(agent):
    conversation = ConversationFactory(assignee=agent)

    response = api_client_for(agent).post(f"{URL}{conversation.pk}/transfer/", {}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "agent"


def test_tag_and_untag(agent, conversation):
    refund = TagFactory(name="refund")
    client = api_client_for(agent)

    tagged = client.post(f"{URL}{conversation.pk}/tags/", {"name": "Refund"}, format="json")
    untagged = client.delete(f"{URL}{conversation.pk}/tags/{refund.pk}/")

    assert [t["name"] for t in tagged.json()["tags"]] == ["refund"]
    assert untagged.json()["tags"] == []


def test_limited_agent_cannot_create_a_new_tag(agent, conversation):
    response = api_client_for(agent).post(f"{URL}{conversation.pk}/tags/", {"name": "brand-new"}, format="json")

    assert response.status_code == 403


READ_ONLY_WRITES = [
    ("post", "{c}/resolve/", None),
    ("post", "{c}/reopen/", None),
    ("post", "{c}/join/", None),
    ("post", "{c}/assign/", {"agent": 1}),
    ("post", "{c}/transfer/", {"group": 1}),
    ("post", "{c}/tags/", {"name": "refund"}),
    ("delete", "{c}/tags/1/", None),
    ("post", "{c}/messages/", {"body": "Hi"}),
]


@pytest.mark.parametrize(("method", "path", "data"), READ_ONLY_WRITES)
def test_a_read_only_key_cannot_write(owner, conversation, method, path, data):
    client = api_client_for(owner, read_only=True)

    response = getattr(client, method)(URL + path.format(c=conversation.pk), data, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not Message.objects.exists()


def test_a_read_only_key_reads(owner, conversation):
    assert api_client_for(owner, read_only=True).get(f"{URL}{conversation.pk}/").status_code == 200


def test_an_inactive_agents_key_cannot_reply(agent, conversation):
    Agent.objects.filter(pk=agent.pk).update(can_chat=False)

    response = api_client_for(agent).post(f"{URL}{conversation.pk}/messages/", {"body": "Hi"}, format="json")

    assert response.status_code == 403


def test_too_many_requests_are_throttled_with_retry_after(settings, full_agent):
    settings.API_RATE_LIMIT = "2/min"
    client = api_client_for(full_agent)

    statuses = [client.get(URL).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    response = client.get(URL)
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "throttled"


def test_a_rate_limit_window_left_by_the_previous_throttle_is_no_error(settings, full_agent):
    """DRF's throttle kept a list of times under its key; after an upgrade that list is still there."""
    from django.core.cache import cache

    client = api_client_for(full_agent)
    cache.set(f"throttle_api_key-{client.api_key.prefix}", [1.0, 2.0], 60)

    assert client.get(URL).status_code == 200


def test_tags_agents_and_groups_are_listed(full_agent):
    TagFactory(name="refund")
    AgentGroupFactory(name="Sales")
    client = api_client_for(full_agent)

    assert [t["name"] for t in client.get("/api/v1/tags/").json()] == ["refund"]
    assert [g["name"] for g in client.get("/api/v1/groups/").json()] == ["Sales"]
    assert full_agent.pk in [a["id"] for a in client.get("/api/v1/agents/").json()["results"]]
    assert client.get(f"/api/v1/agents/{full_agent.pk}/").json()["role"] == "full"


def test_full_access_creates_a_tag_and_a_limited_agent_cannot(full_agent, agent):
    created = api_client_for(full_agent).post("/api/v1/tags/", {"name": "vip"}, format="json")
    refused = api_client_for(agent).post("/api/v1/tags/", {"name": "spam"}, format="json")

    assert created.json()["name"] == "vip"
    assert refused.status_code == 403


def test_retrieve_reads_a_fixed_number_of_queries_however_long_the_conversation(full_agent, conversation, agent):
    client = api_client_for(full_agent)
    client.get(URL)  # the key's first use is recorded; later ones within the minute are not
    MessageFactory(conversation=conversation)
    with CaptureQueriesContext(connection) as short:
        client.get(f"{URL}{conversation.pk}/")
    MessageFactory.create_batch(5, conversation=conversation, author=Message.Author.AGENT, agent=agent)

    with CaptureQueriesContext(connection) as long:
        client.get(f"{URL}{conversation.pk}/")

    assert len(long.captured_queries) == len(short.captured_queries)


def test_a_conversation_deleted_while_the_request_works_on_it_is_not_found(full_agent, monkeypatch):
    """The service re-reads the conversation under its lock; gone by then, the answer is a 404, not a 500."""
    from conversations import api

    conversation = ConversationFactory()
    read = api._conversation

    def read_then_deleted_by_someone_else(request, conversation_id):
        found = read(request, conversation_id)
        Conversation.objects.filter(pk=conversation_id).delete()
        return found

    monkeypatch.setattr(api, "_conversation", read_then_deleted_by_someone_else)

    response = api_client_for(full_agent).post(f"{URL}{conversation.pk}/resolve/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_conversation_deleted_with_its_visitor_while_its_page_is_read_is_left_out():
    kept, gone = ConversationFactory(), ConversationFactory()
    rows = list(as_rows(Conversation.objects.order_by("id")))
    gone.visitor.delete()

    assert [shown["id"] for shown in rows_output(rows)] == [kept.pk]
