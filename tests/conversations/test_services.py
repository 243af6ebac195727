import pytest
from django.core.management import call_command
from django.db import connection

from conversations import events, services
from conversations.models import Channel, Conversation, ConversationEvent, Message
from helpdesk import events as hub
from helpdesk import rows
from helpdesk.errors import ServiceError
from helpdesk.models import Agent

from ..conftest import gone_offline, online, row_versions_committed
from ..factories import AgentFactory, AgentGroupFactory, ConversationFactory, MessageFactory, TagFactory, VisitorFactory

pytestmark = pytest.mark.django_db


def kinds(conversation: Conversation) -> list[str]:
    return list(conversation.events.values_list("kind", flat=True))


def visitor_says(visitor, body="Hello", **kwargs) -> Message:
    return services.visitor_message_create(visitor=visitor, body=body, **kwargs)


def resolved_by(conversation: Conversation, agent: Agent) -> Conversation:
    services.message_create(conversation=conversation, author=Message.Author.AGENT, agent=agent, body="Hi!")
    return services.conversation_resolve(conversation=conversation, actor=agent)


@pytest.fixture
def published():
    """Every event published while the test runs, in order, as subscribers receive them."""
    received = []
    hub.subscribe(received.append)
    yield received
    hub.unsubscribe(received.append)


# --- A visitor writes ---------------------------------------------------------------------------


def test_visitor_first_message_opens_an_open_unassigned_conversation(visitor):
    message = visitor_says(visitor, "Do you ship to Hungary?", page_url="https://shop.example.com/p/1")

    conversation = message.conversation
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.assignee is None
    assert conversation.page_url == "https://shop.example.com/p/1"
    assert conversation.ip_address == visitor.ip_address
    assert message.author == Message.Author.VISITOR
    assert kinds(conversation) == ["created"]


def test_visitor_next_message_continues_their_conversation(visitor):
    first = visitor_says(visitor, "Hello")
    second = visitor_says(visitor, "Anyone there?")

    assert second.conversation_id == first.conversation_id
    assert Conversation.objects.filter(visitor=visitor).count() == 1


def test_visitor_cannot_write_into_someone_elses_conversation(visitor):
    stranger_conversation = ConversationFactory()

    with pytest.raises(ServiceError) as refused:
        visitor_says(visitor, conversation=stranger_conversation)

    assert refused.value.code == "forbidden"
    assert not stranger_conversation.messages.exists()


@pytest.mark.parametrize("body", ["", "   \n ", None, 42])
def test_empty_message_is_refused_and_opens_no_conversation(visitor, body):
    with pytest.raises(ServiceError) as refused:
        visitor_says(visitor, body)

    assert refused.value.field == "body"
    assert not Conversation.objects.exists()


def test_message_over_the_length_limit_is_refused(conversation):
    with pytest.raises(ServiceError) as refused:
        services.message_create(
            conversation=conversation, author="visitor", body="x" * (services.MAX_MESSAGE_LENGTH + 1)
        )

    assert refused.value.field == "body"
    assert not conversation.messages.exists()


def test_no_raw_card_number_reaches_the_database_or_the_events(
    visitor, agent, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = visitor_says(visitor, "Pay with 4111 1111 1111 1111 please")
        services.message_create(
            conversation=message.conversation, author="agent", agent=agent, body="Got 4111111111111111, thanks"
        )

    assert message.body == "Pay with **** **** **** 1111 please"
    dump = call_command_output("dumpdata")
    assert "4111 1111 1111 1111" not in dump
    assert "4111111111111111" not in dump
    assert not any(raw in str(published) for raw in ("4111 1111 1111 1111", "4111111111111111"))


def call_command_output(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_retried_client_id_stores_the_message_once(conversation):
    first = services.message_create(conversation=conversation, author="visitor", body="Hi", client_id="c-1")
    again = services.message_create(conversation=conversation, author="visitor", body="Hi", client_id="c-1")

    assert again.pk == first.pk
    assert conversation.messages.count() == 1


def test_a_repeat_arriving_after_its_conversation_was_resolved_changes_nothing(
    visitor, agent, published, django_capture_on_commit_callbacks
):
    """A chat box resending a message it already sent (its ack was lost) must not reopen the
    conversation the agent has resolved since."""
    first = visitor_says(visitor, "Thanks, bye", client_id="c-1")
    conversation = resolved_by(first.conversation, agent)
    history = kinds(conversation)

    with django_capture_on_commit_callbacks(execute=True):
        again = visitor_says(visitor, "Thanks, bye", client_id="c-1")

    assert again.pk == first.pk
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED
    assert kinds(conversation) == history
    assert conversation.messages.count() == 2
    assert published == []


def test_a_reply_repeated_after_the_agent_was_switched_off_is_acknowledged_as_the_reply_it_was(agent, conversation):
    """The reply went out before the owner took the agent off chat: its resend is that reply, not a refusal."""
    first = services.agent_message_create(agent=agent, conversation_id=conversation.pk, body="Hi", client_id="a-1")
    Agent.objects.filter(pk=agent.pk).update(can_chat=False)
    agent.refresh_from_db()

    again = services.agent_message_create(agent=agent, conversation_id=conversation.pk, body="Hi", client_id="a-1")

    assert again.pk == first.pk
    with pytest.raises(ServiceError) as refused:
        services.agent_message_create(agent=agent, conversation_id=conversation.pk, body="Hi", client_id="a-2")
    assert refused.value.code == "forbidden"
    assert conversation.messages.count() == 1


def test_a_webhook_delivered_twice_stores_one_message(visitor):
    first = visitor_says(visitor, "Hi", channel=Channel.MESSENGER, external_id="m_abc")
    again = visitor_says(visitor, "Hi", channel=Channel.MESSENGER, external_id="m_abc")

    assert again.pk == first.pk
    assert Message.objects.count() == 1


def test_same_external_id_on_another_channel_is_another_message(visitor):
    visitor_says(visitor, "Hi", channel=Channel.MESSENGER, external_id="id-1")
    visitor_says(visitor, "Hi", channel=Channel.EMAIL, external_id="id-1")

    assert Message.objects.count() == 2


def test_an_overlong_client_id_is_refused(conversation):
    with pytest.raises(ServiceError) as refused:
        services.message_create(conversation=conversation, author="visitor", body="Hi", client_id="x" * 65)

    assert refused.value.field == "client_id"


def test_message_created_is_published_only_after_commit(visitor, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        visitor_says(visitor, "Hi")
        assert published == []

    for callback in callbacks:
        callback()
    assert [event["type"] for event in published] == ["conversation.created", "message.created"]
    assert published[1]["message"]["body"] == "Hi"


# --- An agent answers -----------------------------------------------------------------------------


def test_agent_first_reply_assigns_the_conversation_and_records_first_response(conversation, agent):
    services.message_create(conversation=conversation, author="agent", agent=agent, body="How can I help?")

    conversation.refresh_from_db()
    assert conversation.assignee == agent
    assert conversation.first_response_at is not None
    assert kinds(conversation) == ["joined"]


def test_a_colleague_reply_does_not_take_an_assigned_conversation(conversation, agent, colleague):
    services.message_create(conversation=conversation, author="agent", agent=agent, body="Hi")
    services.message_create(conversation=conversation, author="agent", agent=colleague, body="Me too")

    conversation.refresh_from_db()
    assert conversation.assignee == agent


def test_inactive_agent_can_read_but_cannot_reply(conversation):
    inactive = AgentFactory(can_chat=False)

    with pytest.raises(ServiceError) as refused:
        services.message_create(conversation=conversation, author="agent", agent=inactive, body="Hi")

    assert refused.value.code == "forbidden"
    assert not conversation.messages.exists()


def test_agent_message_without_an_agent_is_refused(conversation):
    with pytest.raises(ServiceError) as refused:
        services.message_create(conversation=conversation, author="agent", body="Hi")

    assert refused.value.field == "agent"


def test_a_reply_sent_from_the_channels_own_inbox_is_stored_without_an_agent_or_delivery():
    messenger_conversation = ConversationFactory(channel=Channel.MESSENGER)

    message = services.message_create(
        conversation=messenger_conversation, author="agent", body="Answered on Facebook", external_id="m_echo"
    )

    messenger_conversation.refresh_from_db()
    assert (message.agent, message.delivery_status) == (None, "")
    assert messenger_conversation.assignee is None


def test_a_visitor_message_cannot_carry_an_agent(conversation, agent):
    with pytest.raises(ServiceError) as refused:
        services.message_create(conversation=conversation, author="visitor", agent=agent, body="Hi")

    assert refused.value.field == "agent"


def test_reply_on_a_channel_that_is_not_set_up_is_refused(agent, monkeypatch):
    monkeypatch.delitem(events._deliverers, Channel.MESSENGER, raising=False)
    messenger_conversation = ConversationFactory(channel=Channel.MESSENGER)

    with pytest.raises(ServiceError) as refused:
        services.message_create(conversation=messenger_conversation, author="agent", agent=agent, body="Hi")

    assert refused.value.code == "conflict"
    assert not Message.objects.exists()


def test_reply_on_a_delivering_channel_is_pending_and_handed_over_after_commit(
    agent, django_capture_on_commit_callbacks, monkeypatch
):
    delivered = []
    # The real Messenger deliverer comes back after the test (monkeypatch restores it).
    monkeypatch.setitem(events._deliverers, Channel.MESSENGER, delivered.append)
    # Only the hand-over is tested here, not Messenger's reply window.
    monkeypatch.delitem(events._reply_checks, Channel.MESSENGER, raising=False)
    messenger_conversation = ConversationFactory(channel=Channel.MESSENGER)
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_create(conversation=messenger_conversation, author="agent", agent=agent, body="Hi")
        assert delivered == []

    assert message.delivery_status == Message.Delivery.PENDING
    assert delivered == [message.pk]


# --- A message and a change at the same moment -----------------------------------------------------
# On PostgreSQL a message is first written without the conversation's lock, in one statement that holds
# only while the conversation is as it was read. These tests change it in between, as another process
# can, committing each step.


def changed_before_the_write(monkeypatch, change):
    """Runs `change` once, after the next message's unlocked read of its conversation and before its write."""
    write = rows.insert_and_update_if_unchanged

    def change_then_write(*args, **kwargs):
        monkeypatch.setattr(rows, "insert_and_update_if_unchanged", write)
        change()
        return write(*args, **kwargs)

    monkeypatch.setattr(rows, "insert_and_update_if_unchanged", change_then_write)


@row_versions_committed
def test_a_message_written_as_its_conversation_is_resolved_reopens_it(visitor, agent, monkeypatch):
    conversation = visitor_says(visitor).conversation
    services.agent_message_create(agent=agent, conversation_id=conversation.pk, body="Anything else?")
    changed_before_the_write(monkeypatch, lambda: services.conversation_resolve(conversation=conversation, actor=agent))

    message = visitor_says(visitor, "Yes, one more thing")

    conversation.refresh_from_db()
    assert message.conversation_id == conversation.pk
    assert conversation.status == Conversation.Status.OPEN
    assert kinds(conversation) == ["created", "joined", "resolved", "reopened"]


@row_versions_committed
def test_when_two_agents_reply_at_once_the_first_reply_stored_is_the_first_response(
    conversation, agent, full_agent, monkeypatch
):
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent)
    colleague_reply = []
    changed_before_the_write(
        monkeypatch,
        lambda: colleague_reply.append(
            services.agent_message_create(agent=full_agent, conversation_id=conversation.pk, body="I'm on it")
        ),
    )

    reply = services.agent_message_create(agent=agent, conversation_id=conversation.pk, body="Hello!")

    conversation.refresh_from_db()
    assert list(conversation.messages.values_list("body", flat=True)) == ["I'm on it", "Hello!"]
    assert conversation.first_response_at == colleague_reply[0].created_at
    assert conversation.last_message_at == reply.created_at
    assert conversation.assignee == agent


# --- Resolve and reopen -----------------------------------------------------------------------------


def test_assignee_resolves_their_conversation(conversation, agent):
    resolved = resolved_by(conversation, agent)

    assert resolved.status == Conversation.Status.RESOLVED
    assert resolved.resolved_at is not None
    assert kinds(conversation) == ["joined", "resolved"]


@pytest.mark.parametrize("role", [Agent.Role.FULL, Agent.Role.OWNER])
def test_full_access_and_owner_resolve_any_conversation(conversation, agent, role):
    services.message_create(conversation=conversation, author="agent", agent=agent, body="Hi")
    manager = AgentFactory(role=role)

    assert services.conversation_resolve(conversation=conversation, actor=manager).status == "resolved"


def test_limited_agent_cannot_resolve_colleagues_conversation(conversation, agent, colleague):
    services.message_create(conversation=conversation, author="agent", agent=colleague, body="Hi")

    with pytest.raises(ServiceError) as refused:
        services.conversation_resolve(conversation=conversation, actor=agent)

    assert refused.value.code == "forbidden"
    assert "assigned agent" in refused.value.message
    conversation.refresh_from_db()
    assert conversation.is_open


def test_limited_agent_cannot_resolve_an_unassigned_conversation(conversation, agent):
    with pytest.raises(ServiceError):
        services.conversation_resolve(conversation=conversation, actor=agent)


def test_inactive_assignee_cannot_resolve(conversation, agent):
    services.message_create(conversation=conversation, author="agent", agent=agent, body="Hi")
    agent.can_chat = False
    agent.save()

    with pytest.raises(ServiceError):
        services.conversation_resolve(conversation=conversation, actor=agent)


def test_resolving_twice_records_one_resolution(conversation, agent):
    resolved_by(conversation, agent)
    services.conversation_resolve(conversation=conversation, actor=agent)

    assert kinds(conversation).count("resolved") == 1


def test_visitor_message_reopens_resolved_conversation_and_keeps_online_assignee(visitor, agent):
    conversation = visitor_says(visitor).conversation
    resolved_by(conversation, agent)

    message = visitor_says(visitor, "One more thing")

    conversation.refresh_from_db()
    assert message.conversation_id == conversation.pk
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.resolved_at is None
    assert conversation.assignee == agent
    assert kinds(conversation)[-1] == "reopened"


def test_reopened_conversation_returns_to_new_when_its_agent_is_offline(visitor, agent):
    conversation = visitor_says(visitor).conversation
    resolved_by(conversation, agent)
    gone_offline(agent)

    visitor_says(visitor, "Hello again")

    conversation.refresh_from_db()
    assert conversation.is_open
    assert conversation.assignee is None


def test_agent_who_chose_offline_does_not_keep_a_reopened_conversation(visitor, agent):
    conversation = visitor_says(visitor).conversation
    resolved_by(conversation, agent)
    agent.status = Agent.Status.OFFLINE
    agent.save()

    visitor_says(visitor, "Hello again")

    conversation.refresh_from_db()
    assert conversation.assignee is None


@pytest.mark.parametrize("channel", [Channel.MESSENGER, Channel.EMAIL])
def test_visitor_message_on_any_channel_reopens(channel, agent):
    conversation = ConversationFactory(channel=channel)
    services.conversation_join(conversation=conversation, actor=agent)
    services.conversation_resolve(conversation=conversation, actor=agent)

    visitor_says(conversation.visitor, channel=channel, external_id="ext-1")

    conversation.refresh_from_db()
    assert conversation.is_open


def test_agent_reopens_a_resolved_conversation(conversation, agent):
    resolved_by(conversation, agent)

    services.conversation_reopen(conversation=conversation, actor=agent)

    conversation.refresh_from_db()
    assert conversation.is_open
    assert conversation.events.last().data["by"] == "agent"


# --- Join, assign, transfer ----------------------------------------------------------------------


def test_agent_takes_an_unassigned_conversation(conversation, agent):
    services.conversation_join(conversation=conversation, actor=agent)

    conversation.refresh_from_db()
    assert conversation.assignee == agent
    assert kinds(conversation) == ["joined"]


def test_limited_agent_cannot_take_a_colleagues_conversation(conversation, agent, colleague):
    services.conversation_join(conversation=conversation, actor=colleague)

    with pytest.raises(ServiceError) as refused:
        services.conversation_join(conversation=conversation, actor=agent)

    assert refused.value.code == "forbidden"


def test_full_access_agent_takes_over_a_colleagues_conversation(conversation, colleague, full_agent):
    services.conversation_join(conversation=conversation, actor=colleague)

    services.conversation_join(conversation=conversation, actor=full_agent)

    conversation.refresh_from_db()
    assert conversation.assignee == full_agent
    assert conversation.events.last().data["previous_agent_id"] == colleague.pk


def test_full_access_agent_assigns_a_conversation(conversation, agent, full_agent):
    services.conversation_assign(conversation=conversation, agent=agent, actor=full_agent)

    conversation.refresh_from_db()
    assert conversation.assignee == agent
    assert kinds(conversation) == ["assigned"]


def test_limited_agent_cannot_assign(conversation, agent, colleague):
    with pytest.raises(ServiceError) as refused:
        services.conversation_assign(conversation=conversation, agent=colleague, actor=agent)

    assert refused.value.code == "forbidden"


def test_inactive_agent_cannot_be_given_a_conversation(conversation, full_agent):
    inactive = AgentFactory(can_chat=False)

    with pytest.raises(ServiceError) as refused:
        services.conversation_assign(conversation=conversation, agent=inactive, actor=full_agent)

    assert refused.value.field == "agent"


def test_assignee_transfers_to_a_colleague(conversation, agent, colleague):
    services.conversation_join(conversation=conversation, actor=agent)

    services.conversation_transfer(conversation=conversation, actor=agent, agent=colleague)

    conversation.refresh_from_db()
    assert conversation.assignee == colleague
    assert conversation.events.last().data == {
        "from_agent_id": agent.pk,
        "from_group_id": None,
        "to_agent_id": colleague.pk,
    }


def test_transfer_to_a_group_puts_the_conversation_back_in_new_for_that_group(conversation, agent):
    billing = AgentGroupFactory(name="Billing")
    services.conversation_join(conversation=conversation, actor=agent)

    services.conversation_transfer(conversation=conversation, actor=agent, group=billing)

    conversation.refresh_from_db()
    assert conversation.group == billing
    assert conversation.assignee is None


def test_limited_agent_cannot_transfer_a_colleagues_conversation(conversation, agent, colleague):
    services.conversation_join(conversation=conversation, actor=colleague)

    with pytest.raises(ServiceError) as refused:
        services.conversation_transfer(conversation=conversation, actor=agent, agent=agent)

    assert refused.value.code == "forbidden"


def test_transfer_needs_exactly_one_target(conversation, full_agent, agent):
    with pytest.raises(ServiceError):
        services.conversation_transfer(conversation=conversation, actor=full_agent)
    with pytest.raises(ServiceError):
        services.conversation_transfer(
            conversation=conversation, actor=full_agent, agent=agent, group=AgentGroupFactory()
        )


# --- Tags --------------------------------------------------------------------------------------


def test_tagging_and_untagging_are_recorded_once(conversation, agent):
    vip = TagFactory(name="vip")

    services.conversation_tag(conversation=conversation, tag=vip, actor=agent)
    services.conversation_tag(conversation=conversation, tag=vip, actor=agent)
    services.conversation_untag(conversation=conversation, tag=vip, actor=agent)

    assert not conversation.tags.exists()
    assert kinds(conversation) == ["tagged", "untagged"]


def test_inactive_agent_cannot_tag(conversation):
    with pytest.raises(ServiceError):
        services.conversation_tag(conversation=conversation, tag=TagFactory(), actor=AgentFactory(can_chat=False))


def test_existing_tag_is_found_in_any_letter_case(agent):
    vip = TagFactory(name="VIP")

    assert services.tag_get_or_create(name=" vip ", actor=agent) == vip


def test_only_full_access_creates_new_tags(agent, full_agent):
    with pytest.raises(ServiceError) as refused:
        services.tag_get_or_create(name="refund", actor=agent)
    assert refused.value.code == "forbidden"

    assert services.tag_get_or_create(name="refund", actor=full_agent).name == "refund"


def test_a_tag_name_is_used_once_in_any_letter_case(full_agent):
    vip = services.tag_create(name=" VIP ", actor=full_agent)
    refund = services.tag_create(name="refund", actor=full_agent)

    with pytest.raises(ServiceError) as created:
        services.tag_create(name="vip", actor=full_agent)
    with pytest.raises(ServiceError) as renamed:
        services.tag_rename(tag=refund, name="Vip", actor=full_agent)

    assert vip.name == "VIP"
    assert (created.value.field, created.value.code) == ("name", "conflict")
    assert (renamed.value.field, renamed.value.code) == ("name", "conflict")
    assert services.tag_rename(tag=vip, name="vip", actor=full_agent).name == "vip"


@pytest.fixture
def vip_taken_right_after_the_check(monkeypatch):
    """Another owner creates "vip" between the service's check of the name and its save."""
    from conversations.models import Tag

    checked = services.tag_name_clean

    def check_then_taken(**kwargs):
        name = checked(**kwargs)
        Tag.objects.bulk_create([Tag(name="vip")])
        return name

    monkeypatch.setattr(services, "tag_name_clean", check_then_taken)


def test_a_tag_name_taken_meanwhile_is_refused_on_the_name(full_agent, vip_taken_right_after_the_check):
    from conversations.models import Tag

    with pytest.raises(ServiceError) as refused:
        services.tag_create(name="VIP", actor=full_agent)

    assert (refused.value.field, refused.value.code) == ("name", "conflict")
    assert refused.value.message == "There is a tag with this name already."
    assert not Tag.objects.filter(name="VIP").exists()


def test_a_rename_to_a_name_taken_meanwhile_is_refused_and_keeps_the_transaction_usable(
    full_agent, vip_taken_right_after_the_check
):
    from django.db import transaction

    from conversations.models import Tag

    refund = TagFactory(name="refund")

    with transaction.atomic():
        with pytest.raises(ServiceError) as refused:
            services.tag_rename(tag=refund, name="Vip", actor=full_agent)
        names = sorted(Tag.objects.values_list("name", flat=True))  # a query in the same transaction still works

    assert (refused.value.field, refused.value.code) == ("name", "conflict")
    assert names == ["refund"]


def test_a_tag_another_agent_created_meanwhile_is_the_one_found(full_agent, monkeypatch):
    from conversations import permissions
    from conversations.models import Tag

    allowed = permissions.why_cannot_create_tag

    def allowed_then_created_by_a_colleague(agent):
        Tag.objects.bulk_create([Tag(name="Refund")])
        return allowed(agent)

    monkeypatch.setattr(permissions, "why_cannot_create_tag", allowed_then_created_by_a_colleague)

    tag = services.tag_get_or_create(name="refund", actor=full_agent)

    assert tag == Tag.objects.get(name="Refund")


def test_only_full_access_renames_and_deletes_tags(agent):
    vip = TagFactory(name="vip")

    with pytest.raises(ServiceError) as renamed:
        services.tag_rename(tag=vip, name="gold", actor=agent)
    with pytest.raises(ServiceError) as deleted:
        services.tag_delete(tag=vip, actor=agent)

    assert renamed.value.code == deleted.value.code == "forbidden"
    vip.refresh_from_db()
    assert vip.name == "vip"


def test_deleting_a_tag_takes_it_off_conversations_and_keeps_their_history(conversation, full_agent):
    vip = TagFactory(name="vip")
    services.conversation_tag(conversation=conversation, tag=vip, actor=full_agent)

    services.tag_delete(tag=vip, actor=full_agent)

    assert not conversation.tags.exists()
    assert kinds(conversation) == ["tagged"]


# --- Rating -------------------------------------------------------------------------------------


def test_visitor_rates_a_resolved_conversation(conversation, agent):
    resolved_by(conversation, agent)

    services.conversation_rate(conversation=conversation, visitor=conversation.visitor, rating=5, comment="Great")

    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rating_comment) == (5, "Great")
    assert kinds(conversation)[-1] == "rated"


def test_open_conversation_cannot_be_rated(conversation):
    with pytest.raises(ServiceError) as refused:
        services.conversation_rate(conversation=conversation, visitor=conversation.visitor, rating=4)

    assert refused.value.code == "conflict"


def test_a_resolution_is_rated_once_and_the_next_resolution_again(visitor, agent):
    conversation = visitor_says(visitor).conversation
    resolved_by(conversation, agent)
    services.conversation_rate(conversation=conversation, visitor=visitor, rating=2)

    with pytest.raises(ServiceError):
        services.conversation_rate(conversation=conversation, visitor=visitor, rating=5)

    visitor_says(visitor, "Still broken")
    services.conversation_resolve(conversation=conversation, actor=agent)
    services.conversation_rate(conversation=conversation, visitor=visitor, rating=5)
    conversation.refresh_from_db()
    assert conversation.rating == 5


@pytest.mark.parametrize("rating", [0, 6, "5", 4.5, True, None])
def test_rating_outside_one_to_five_is_refused(conversation, agent, rating):
    resolved_by(conversation, agent)

    with pytest.raises(ServiceError) as refused:
        services.conversation_rate(conversation=conversation, visitor=conversation.visitor, rating=rating)

    assert refused.value.field == "rating"


def test_only_the_conversations_visitor_can_rate_it(conversation, agent):
    resolved_by(conversation, agent)

    with pytest.raises(ServiceError) as refused:
        services.conversation_rate(conversation=conversation, visitor=VisitorFactory(), rating=1)

    assert refused.value.code == "forbidden"


def test_a_card_number_in_a_rating_comment_is_masked(conversation, agent):
    resolved_by(conversation, agent)

    services.conversation_rate(
        conversation=conversation, visitor=conversation.visitor, rating=3, comment="charged 5555555555554444 twice"
    )

    conversation.refresh_from_db()
    assert conversation.rating_comment == "charged ************4444 twice"


def test_a_rating_comment_too_long_to_keep_is_refused_not_cut(conversation, agent):
    resolved_by(conversation, agent)

    with pytest.raises(ServiceError) as refused:
        services.conversation_rate(
            conversation=conversation, visitor=conversation.visitor, rating=2, comment="x" * 2001
        )

    assert refused.value.field == "comment"
    conversation.refresh_from_db()
    assert conversation.rating is None


# --- History -----------------------------------------------------------------------------------


def test_every_change_is_a_history_row_with_its_actor(visitor, agent, full_agent):
    conversation = visitor_says(visitor).conversation
    services.conversation_join(conversation=conversation, actor=agent)
    services.conversation_tag(conversation=conversation, tag=TagFactory(name="vip"), actor=agent)
    services.conversation_transfer(conversation=conversation, actor=agent, agent=full_agent)
    services.conversation_resolve(conversation=conversation, actor=full_agent)
    services.conversation_rate(conversation=conversation, visitor=visitor, rating=4)
    online(full_agent)
    visitor_says(visitor, "Me again")

    history = list(ConversationEvent.objects.filter(conversation=conversation).values_list("kind", "actor"))
    assert history == [
        ("created", None),
        ("joined", agent.pk),
        ("tagged", agent.pk),
        ("transferred", agent.pk),
        ("resolved", full_agent.pk),
        ("rated", None),
        ("reopened", None),
    ]


# --- Delivery of replies sent elsewhere ---------------------------------------------------------


@pytest.fixture
def pending_reply(agent, monkeypatch):
    monkeypatch.setitem(events._deliverers, Channel.EMAIL, lambda message_id: None)
    monkeypatch.delitem(events._reply_checks, Channel.EMAIL, raising=False)
    conversation = ConversationFactory(channel=Channel.EMAIL)
    return services.message_create(conversation=conversation, author="agent", agent=agent, body="Hi")


def test_delivery_moves_forward_and_keeps_the_channels_id(pending_reply, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.message_set_delivery(message=pending_reply, status="sent", external_id="<abc@helpdesk>")
        services.message_set_delivery(message=pending_reply, status="read")
        services.message_set_delivery(message=pending_reply, status="delivered")  # late receipt

    pending_reply.refresh_from_db()
    assert (pending_reply.delivery_status, pending_reply.external_id) == ("read", "<abc@helpdesk>")
    assert [event["message"]["delivery_status"] for event in published] == ["sent", "read"]


def test_a_failed_delivery_keeps_its_reason(pending_reply):
    services.message_set_delivery(message=pending_reply, status="failed", error="The 24-hour window has closed.")

    pending_reply.refresh_from_db()
    assert pending_reply.delivery_status == "failed"
    assert pending_reply.delivery_error == "The 24-hour window has closed."


def test_the_reason_of_a_failed_delivery_is_published(pending_reply, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.message_set_delivery(message=pending_reply, status="failed", error="The 24-hour window has closed.")

    assert published[-1]["message"]["delivery_error"] == "The 24-hour window has closed."


def test_an_unknown_delivery_status_is_refused(pending_reply):
    with pytest.raises(ServiceError) as refused:
        services.message_set_delivery(message=pending_reply, status="lost")

    assert refused.value.field == "status"


def test_read_mark_never_moves_back(agent, conversation):
    from conversations.models import ConversationRead

    first = MessageFactory(conversation=conversation)
    second = MessageFactory(conversation=conversation)

    assert services.conversation_mark_read(conversation=conversation, agent=agent) == second.pk
    assert services.conversation_mark_read(conversation=conversation, agent=agent, message_id=first.pk) == second.pk
    assert ConversationRead.objects.get().last_read_message_id == second.pk


def test_read_mark_cannot_point_past_the_last_message(agent, conversation):
    last = MessageFactory(conversation=conversation)

    assert services.conversation_mark_read(conversation=conversation, agent=agent, message_id=last.pk + 50) == last.pk


def test_conversation_of_another_group_cannot_be_marked_read(agent):
    hidden = ConversationFactory(group=AgentGroupFactory())

    with pytest.raises(ServiceError):
        services.conversation_mark_read(conversation=hidden, agent=agent)


def test_a_chat_message_and_all_it_sets_off_take_a_fixed_handful_of_queries(
    visitor, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """Every message of a live chat pays for this, hundreds of times a second under load: storing it,
    the webhooks' check and the notification bookkeeping, whatever the conversation's length."""
    # PostgreSQL writes a message with its conversation's change, and an episode with its recipients,
    # in one statement each, and the message's insert finds a repeated client id.
    visitor_queries, reply_queries = (9, 6) if connection.vendor == "postgresql" else (12, 8)
    agent = online(AgentFactory())
    conversation = visitor_says(visitor, client_id="c0").conversation
    for n in range(1, 4):
        with django_capture_on_commit_callbacks(execute=True):
            services.agent_message_create(agent=agent, conversation_id=conversation.pk, body="Hi", client_id=f"a{n}")
        # After each reply, the visitor's next message starts a new possibly-missed episode.
        with django_assert_max_num_queries(visitor_queries), django_capture_on_commit_callbacks(execute=True):
            visitor_says(visitor, "Thanks", client_id=f"c{n}")
    with django_assert_max_num_queries(reply_queries), django_capture_on_commit_callbacks(execute=True):
        services.agent_message_create(agent=agent, conversation_id=conversation.pk, body="Bye", client_id="a9")


def test_a_reply_by_conversation_id_is_judged_by_the_agent_as_stored_now(agent, conversation):
    """The dashboard hands over the agent it loaded a while ago: the owner may have switched them off
    or locked them out since."""
    Agent.objects.filter(pk=agent.pk).update(can_chat=False)
    with pytest.raises(ServiceError) as refused:
        services.agent_message_create(agent=agent, conversation_id=conversation.pk, body="Hi", client_id="a1")
    assert refused.value.code == "forbidden"

    Agent.objects.filter(pk=agent.pk).update(can_chat=True, is_active=False)
    with pytest.raises(ServiceError) as refused:
        services.agent_message_create(agent=agent, conversation_id=conversation.pk, body="Hi", client_id="a2")
    assert refused.value.code == "forbidden"
    assert "cannot log in" in refused.value.message
    assert not Message.objects.exists()

    Agent.objects.filter(pk=agent.pk).update(is_active=True, name="Renamed")
    reply = services.agent_message_create(agent=agent, conversation_id=conversation.pk, body="Hi", client_id="a3")
    assert reply.agent.name == "Renamed"


def test_an_agent_writing_by_conversation_id_is_refused_where_they_may_not_look(agent, visitor):
    """The dashboard's door for replies: a conversation of another group is "not found", as when
    opening it, so its existence is not given away; one the agent may see takes the reply."""
    elsewhere = ConversationFactory(visitor=visitor, group=AgentGroupFactory())
    with pytest.raises(ServiceError) as refused:
        services.agent_message_create(agent=agent, conversation_id=elsewhere.pk, body="Hi", client_id="a1")
    assert refused.value.code == "not_found"
    with pytest.raises(ServiceError) as refused:
        services.agent_message_create(agent=agent, conversation_id=elsewhere.pk + 1000, body="Hi", client_id="a2")
    assert refused.value.code == "not_found"
    assert not Message.objects.exists()

    mine = ConversationFactory(visitor=visitor)
    reply = services.agent_message_create(agent=agent, conversation_id=mine.pk, body="Hi")
    assert list(mine.messages.values_list("body", "agent")) == [("Hi", agent.pk)]
    assert reply.author == Message.Author.AGENT
    mine.refresh_from_db()
    assert mine.assignee == agent
