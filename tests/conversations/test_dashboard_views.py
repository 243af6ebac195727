"""The dashboard's conversation screens: wiring, permissions shown and enforced, and query counts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import services
from conversations.models import Conversation, ConversationEvent, Message
from helpdesk.models import Agent

from ..factories import AgentFactory, AgentGroupFactory, ConversationFactory, MessageFactory, TagFactory, VisitorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, agent):
    client.force_login(agent)
    return client


def test_dashboard_shows_rows_with_excerpt_unread_count_and_resolve_button(signed_in, agent, colleague):
    conversation = ConversationFactory(visitor__name="Vera Visitor")
    MessageFactory(conversation=conversation, body="Hello, is my order 4111 1111 1111 1111 shipped?")
    MessageFactory(conversation=conversation, body="Still there?")

    page = signed_in.get("/").content.decode()

    assert "Vera Visitor" in page
    assert "Still there?" in page
    assert '<span class="unread-count"' in page and ">2</span>" in page
    assert 'class="resolve"' in page
    assert "1 colleague online" in page


def test_limited_agent_sees_why_resolve_is_disabled_on_a_colleagues_conversation(signed_in, agent, colleague):
    conversation = ConversationFactory(assignee=colleague)

    page = signed_in.get("/").content.decode()
    opened = signed_in.get(f"/conversations/{conversation.pk}/").content.decode()

    reason = "Only the assigned agent, an agent with full access or the owner can resolve this conversation."
    assert f'disabled title="{reason}"' in page
    assert f'disabled title="{reason}"' in opened


def test_limited_agent_cannot_resolve_colleagues_conversation_even_by_posting(signed_in, agent, colleague):
    conversation = ConversationFactory(assignee=colleague)

    response = signed_in.post(f"/conversations/{conversation.pk}/resolve/", {"from": "list"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 403
    assert response["HX-Retarget"] == "#flash"
    assert b"Only the assigned agent" in response.content
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN


def test_agent_resolves_from_the_list_and_the_row_leaves_the_open_tab(signed_in, agent):
    conversation = ConversationFactory(assignee=agent)

    response = signed_in.post(f"/conversations/{conversation.pk}/resolve/", {"from": "list", "tab": "all"})

    assert response.status_code == 200
    assert response.content == b""
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED
    assert signed_in.get(f"/conversations/{conversation.pk}/row/?tab=all").status_code == 204
    assert signed_in.get(f"/conversations/{conversation.pk}/row/?tab=resolved").status_code == 200


def test_inactive_agent_reads_but_cannot_write(client, colleague):
    reader = AgentFactory(can_chat=False)
    conversation = ConversationFactory()
    MessageFactory(conversation=conversation, body="Anyone?")
    client.force_login(reader)

    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    joined = client.post(f"/conversations/{conversation.pk}/join/")

    assert "Anyone?" in page
    assert "you can read conversations but not write" in page
    assert '<textarea id="composer-body" name="body" rows="3"' in page and "disabled" in page
    assert joined.status_code == 403
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_join_transfer_and_tags_through_the_header(client, full_agent, colleague):
    group = AgentGroupFactory(name="Billing")
    conversation = ConversationFactory()
    client.force_login(full_agent)

    assert client.post(f"/conversations/{conversation.pk}/join/").status_code == 200
    conversation.refresh_from_db()
    assert conversation.assignee == full_agent

    response = client.post(f"/conversations/{conversation.pk}/transfer/", {"agent": colleague.pk})
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.assignee == colleague

    client.post(f"/conversations/{conversation.pk}/transfer/", {"group": group.pk})
    conversation.refresh_from_db()
    assert (conversation.group, conversation.assignee) == (group, None)

    response = client.post(f"/conversations/{conversation.pk}/tag/", {"name": "refund"})
    assert b"refund" in response.content
    tag = conversation.tags.get()
    client.post(f"/conversations/{conversation.pk}/untag/", {"tag": tag.pk})
    assert not conversation.tags.exists()

    thread = client.get(f"/conversations/{conversation.pk}/thread/?after=0&after_event=0").content.decode()
    assert "Fanni Full joined" in thread
    assert "transferred it to Csaba Colleague" in thread
    assert "transferred it to the group Billing" in thread
    assert "added the tag refund" in thread and "removed the tag refund" in thread


def test_transfer_to_nobody_names_the_field(client, full_agent):
    conversation = ConversationFactory(assignee=full_agent)
    client.force_login(full_agent)

    response = client.post(f"/conversations/{conversation.pk}/transfer/", {"agent": "x"})

    assert response.status_code == 400
    assert b'data-field="agent"' in response.content


def test_limited_agent_cannot_create_a_tag_and_is_told_why(signed_in, agent):
    conversation = ConversationFactory(assignee=agent)

    response = signed_in.post(f"/conversations/{conversation.pk}/tag/", {"name": "brand-new"})

    assert response.status_code == 403
    assert b"Only agents with full access" in response.content


def test_conversation_of_another_group_is_not_found_for_a_limited_agent(signed_in, agent):
    conversation = ConversationFactory(group=AgentGroupFactory())

    assert signed_in.get(f"/conversations/{conversation.pk}/").status_code == 404
    assert signed_in.post(f"/conversations/{conversation.pk}/resolve/").status_code == 404


def test_opening_a_conversation_marks_it_read(signed_in, agent):
    conversation = ConversationFactory()
    MessageFactory(conversation=conversation)
    assert signed_in.get("/").context["conversations"][0].unread_count == 1

    signed_in.get(f"/conversations/{conversation.pk}/", HTTP_HX_REQUEST="true")

    assert signed_in.get("/").context["conversations"][0].unread_count == 0
    later = MessageFactory(conversation=conversation)
    assert signed_in.get("/").context["conversations"][0].unread_count == 1
    assert signed_in.post(f"/conversations/{conversation.pk}/read/", {"message_id": later.pk}).status_code == 204
    assert signed_in.get("/").context["conversations"][0].unread_count == 0


def test_thread_shows_masked_card_numbers_channel_marks_and_system_events(client, full_agent):
    conversation = ConversationFactory(channel="email")
    services.message_create(
        conversation=conversation, author=Message.Author.VISITOR, body="My card is 4111 1111 1111 1111", channel="email"
    )
    services.conversation_join(conversation=conversation, actor=full_agent)
    services.conversation_resolve(conversation=conversation, actor=full_agent)
    client.force_login(full_agent)

    page = client.get(f"/conversations/{conversation.pk}/").content.decode()

    assert "4111 1111 1111 1111" not in page
    assert "1111" in page
    assert 'class="channel-mark channel-email"' in page
    assert "Fanni Full joined" in page
    assert "Fanni Full resolved the conversation" in page
    assert "Reopen" in page


def test_inbox_of_ten_thousand_conversations_is_one_page_in_a_fixed_number_of_queries(
    client, full_agent, django_assert_max_num_queries
):
    visitors = VisitorFactory.create_batch(3)
    now = timezone.now()
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(visitor=visitors[i % 3], last_message_at=now - timedelta(seconds=i), created_at=now)
            for i in range(10_000)
        ]
    )
    Message.objects.bulk_create(
        [Message(conversation=c, author=Message.Author.VISITOR, body=f"hello {c.pk}") for c in conversations[:200]]
    )
    client.force_login(full_agent)

    with django_assert_max_num_queries(14):
        response = client.get("/")
    rows = response.context["conversations"]
    assert len(rows) == 50
    assert [row.pk for row in rows] == [c.pk for c in conversations[:50]]
    assert all(row.unread_count == 1 for row in rows)

    cursor = response.context["page"].next_cursor
    with django_assert_max_num_queries(6):
        more = client.get("/inbox/", {"tab": "all", "before": cursor})
    assert [row.pk for row in more.context["conversations"]] == [c.pk for c in conversations[50:100]]
    assert b'hx-trigger="revealed"' in more.content


def test_a_conversation_of_a_thousand_messages_loads_its_last_hundred(
    client, full_agent, django_assert_max_num_queries
):
    conversation = ConversationFactory()
    start = timezone.now() - timedelta(days=1)
    Message.objects.bulk_create(
        [
            Message(
                conversation=conversation,
                author=Message.Author.VISITOR,
                body=f"message {i}",
                created_at=start + timedelta(seconds=i),
            )
            for i in range(1000)
        ]
    )
    client.force_login(full_agent)

    # 33: the visitor card's recordings section adds two (the list and whether the account records),
    # the thread one for the files kept with its messages (email attachments).
    with django_assert_max_num_queries(33):
        response = client.get(f"/conversations/{conversation.pk}/")
    page = response.content.decode()
    assert page.count('class="message from-visitor"') == 100
    assert "message 999" in page and "message 899" not in page
    thread = response.context["thread"]

    with django_assert_max_num_queries(6):
        older = client.get(f"/conversations/{conversation.pk}/thread/", {"before": thread.oldest_message_id})
    assert older.content.decode().count('class="message from-visitor"') == 100
    assert "message 899" in older.content.decode()


def test_resolved_tab_lists_resolved_conversations_and_keeps_the_search_in_the_url(client, full_agent):
    refund = TagFactory(name="refund")
    done = ConversationFactory(visitor__name="Rita Resolved", ip_address="203.0.113.9", tags=[refund])
    services.conversation_resolve(conversation=done, actor=full_agent)
    ConversationFactory(visitor__name="Olivér Open", ip_address="203.0.113.10", tags=[refund])
    client.force_login(full_agent)

    page = client.get("/resolved/", {"tag": refund.pk, "tag_match": "all", "ip": "203.0.113.0/24"}).content
    page = page.decode()

    assert "Rita Resolved" in page and "Olivér Open" not in page
    for name in ("rating", "rating_min", "rating_max", "agent", "group", "tag", "tag_match", "url", "ip"):
        assert f'name="{name}"' in page
    for name in ("created_after", "created_before", "resolved_after", "resolved_before", "channel", "status"):
        assert f'name="{name}"' in page
    assert 'value="203.0.113.0/24"' in page
    assert f'<option value="{refund.pk}" selected>' in page


def test_resolved_search_uses_the_shared_search_when_it_exists(client, full_agent, monkeypatch):
    from conversations import selectors

    wanted = ConversationFactory(visitor__name="Wanted")
    ConversationFactory(visitor__name="Other")
    calls = []

    def conversation_search(*, agent, params):
        calls.append((agent, params.get("url")))
        return Conversation.objects.filter(pk=wanted.pk)

    monkeypatch.setattr(selectors, "conversation_search", conversation_search, raising=False)
    client.force_login(full_agent)

    page = client.get("/resolved/", {"url": "checkout"}).content.decode()

    assert calls == [(full_agent, "checkout")]
    assert "Wanted" in page and "Other" not in page


def test_tab_counts_partial(signed_in, agent, colleague):
    ConversationFactory()
    ConversationFactory(assignee=agent)

    page = signed_in.get("/inbox/tabs/").content.decode()

    assert 'data-count="all">2<' in page
    assert 'data-count="new">1<' in page
    assert 'data-count="mine">1<' in page


def test_single_agent_without_groups_sees_only_all_and_new(client, db):
    only = AgentFactory(role=Agent.Role.OWNER)
    client.force_login(only)

    page = client.get("/").content.decode()

    assert 'data-tab="all"' in page and 'data-tab="new"' in page
    assert 'data-tab="mine"' not in page and 'data-tab="primary"' not in page


def test_status_switch_and_history_event_of_a_rating(signed_in, agent):
    response = signed_in.post("/status/", {"status": "offline"})
    assert response.status_code == 200
    agent.refresh_from_db()
    assert agent.status == Agent.Status.OFFLINE
    assert signed_in.post("/status/", {"status": "away"}).status_code == 400


def test_rated_event_is_shown(client, full_agent):
    conversation = ConversationFactory(assignee=full_agent)
    services.conversation_resolve(conversation=conversation, actor=full_agent)
    services.conversation_rate(conversation=conversation, visitor=conversation.visitor, rating=4, comment="Quick")
    client.force_login(full_agent)

    page = client.get(f"/conversations/{conversation.pk}/").content.decode()

    assert "rated the conversation 4/5" in page
    assert ConversationEvent.objects.filter(kind="rated").exists()


def test_opening_from_the_list_swaps_the_centre_and_the_visitor_card(signed_in, agent):
    conversation = ConversationFactory(visitor__name="Vera Visitor")

    response = signed_in.get(f"/conversations/{conversation.pk}/", HTTP_HX_REQUEST="true")
    page = response.content.decode()

    assert '<article class="conversation" id="conversation"' in page
    assert '<aside id="visitor-card" class="visitor-card" hx-swap-oob="true">' in page
    assert "<html" not in page


def test_live_catch_up_returns_only_what_came_after(client, full_agent):
    conversation = ConversationFactory()
    seen = MessageFactory(conversation=conversation, body="seen already")
    services.conversation_join(conversation=conversation, actor=full_agent)
    newer = MessageFactory(conversation=conversation, body="came while away")
    last_event = conversation.events.order_by("-id").first()
    client.force_login(full_agent)

    page = client.get(
        f"/conversations/{conversation.pk}/thread/", {"after": seen.pk, "after_event": last_event.pk}
    ).content.decode()

    assert f'id="message-{newer.pk}"' in page
    assert "seen already" not in page and "joined" not in page


@pytest.mark.parametrize(
    ("query", "field", "named"),
    [
        ("ip=999.1.1.1", "ip", "IP address (or range, e.g. 203.0.113.0/24): Enter an IP address"),
        ("rating=9", "rating", "Rating: Ensure this value is less than or equal to 5."),
        ("tag=cheese", "tag", "Tags:"),
        ("created_after=yesterday", "created_after", "Started after:"),
    ],
)
def test_malformed_search_filter_is_refused_naming_the_field_and_keeps_the_form(signed_in, query, field, named):
    response = signed_in.get(f"/resolved/?advanced=1&{query}")

    page = response.content.decode()
    assert response.status_code == 400
    assert f'data-field="{field}">{named}' in page
    assert 'class="search-form"' in page


def test_malformed_search_filter_from_htmx_is_refused_in_the_message_area(signed_in):
    response = signed_in.get("/resolved/?rating=9&rows=1", HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert response["HX-Retarget"] == "#flash"
    assert b'data-field="rating"' in response.content
