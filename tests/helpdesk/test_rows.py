"""The hot path's plain-SQL reads and writes store and load rows exactly as the ORM does."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from conversations.models import Conversation, ConversationEvent, Message
from helpdesk import rows
from helpdesk.models import Agent
from notifications.models import Episode, EpisodeRecipient

from ..conftest import row_versions_committed
from ..factories import AgentFactory, ConversationFactory

pytestmark = pytest.mark.django_db


def fields_of(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_inserted_rows_read_back_through_the_orm_as_they_were_given():
    conversation = ConversationFactory()
    agent = AgentFactory()
    written = timezone.now() - timedelta(minutes=3)
    first = ConversationEvent(conversation=conversation, kind="joined", actor=agent, data={"agent_id": 7, "é": [1]})
    second = ConversationEvent(conversation=conversation, kind="tagged", data={}, created_at=written)

    rows.insert(first, second)

    assert first.pk and second.pk and first.pk != second.pk
    assert not first._state.adding
    assert fields_of(ConversationEvent.objects.get(pk=first.pk)) == fields_of(first)
    assert fields_of(ConversationEvent.objects.get(pk=second.pk)) == fields_of(second)


def test_update_writes_only_the_fields_it_is_given():
    conversation = ConversationFactory(page_url="https://shop.example.com/")
    answered = timezone.now()
    conversation.first_response_at = answered
    conversation.page_url = "https://elsewhere.example.com/"  # changed here, but not asked to be written

    rows.update(conversation, ["first_response_at", "first_response_at"])  # named twice: written once

    stored = Conversation.objects.get(pk=conversation.pk)
    assert stored.first_response_at == answered
    assert stored.page_url == "https://shop.example.com/"


def test_update_of_a_row_that_is_gone_is_an_error_not_silence():
    conversation = ConversationFactory()
    Conversation.objects.filter(pk=conversation.pk).delete()

    with pytest.raises(DatabaseError):
        rows.update(conversation, ["status"])


def test_a_new_row_and_a_changed_row_are_written_together():
    conversation = ConversationFactory(page_url="https://shop.example.com/")
    agent = AgentFactory()
    answered = timezone.now()
    reply = Message(conversation=conversation, author="agent", agent=agent, body="Hello", client_id="c1")
    conversation.last_message_at = conversation.first_response_at = answered
    conversation.page_url = "https://elsewhere.example.com/"  # changed here, but not asked to be written

    rows.insert_and_update(reply, conversation, ["last_message_at", "first_response_at"])

    assert fields_of(Message.objects.get()) == fields_of(reply)
    stored = Conversation.objects.get(pk=conversation.pk)
    assert (stored.last_message_at, stored.first_response_at) == (answered, answered)
    assert stored.page_url == "https://shop.example.com/"


def test_when_the_changed_row_is_gone_the_new_one_is_not_stored_either():
    conversation, gone = ConversationFactory(), ConversationFactory()
    Conversation.objects.filter(pk=gone.pk).delete()

    with pytest.raises(DatabaseError), transaction.atomic():
        rows.insert_and_update(Message(conversation=conversation, author="visitor", body="hi"), gone, ["status"])

    assert not Message.objects.exists()


@pytest.mark.skipif("not rows.skips_duplicates()")
def test_a_new_row_that_repeats_a_unique_one_leaves_both_rows_as_they_were():
    conversation = ConversationFactory()
    stored = Message.objects.create(conversation=conversation, author="visitor", body="hi", client_id="c1")
    before = conversation.last_message_at
    conversation.last_message_at = timezone.now() + timedelta(minutes=1)
    repeat = Message(conversation=conversation, author="visitor", body="hi again", client_id="c1")

    assert not rows.insert_and_update(repeat, conversation, ["last_message_at"], unless_duplicate=True)

    assert repeat.pk is None
    assert list(Message.objects.values_list("pk", "body")) == [(stored.pk, "hi")]
    assert Conversation.objects.get(pk=conversation.pk).last_message_at == before
    another = Message(conversation=conversation, author="visitor", body="more", client_id="c2")
    assert rows.insert_and_update(another, conversation, ["last_message_at"], unless_duplicate=True)
    assert Message.objects.get(pk=another.pk).body == "more"
    assert Conversation.objects.get(pk=conversation.pk).last_message_at == conversation.last_message_at


def version_of(conversation: Conversation) -> str:
    """The conversation's version as a read sees it now."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {rows.version_sql('c')} FROM conversations_conversation c WHERE c.id = %s", [conversation.pk]
        )
        return cursor.fetchone()[0]


@row_versions_committed
def test_a_write_if_unchanged_stores_both_rows_while_the_row_is_as_read():
    conversation = ConversationFactory()
    version = version_of(conversation)
    message = Message(conversation=conversation, author="visitor", body="Hi", client_id="c1")
    conversation.last_message_at = timezone.now() + timedelta(minutes=1)

    assert rows.insert_and_update_if_unchanged(message, conversation, ["last_message_at"], version=version)

    assert fields_of(Message.objects.get()) == fields_of(message)
    assert Conversation.objects.get(pk=conversation.pk).last_message_at == conversation.last_message_at
    assert version_of(conversation) != version


@row_versions_committed
def test_a_write_if_unchanged_writes_nothing_once_the_row_has_changed():
    conversation = ConversationFactory()
    version = version_of(conversation)
    Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.RESOLVED)
    before = Conversation.objects.get(pk=conversation.pk)
    message = Message(conversation=conversation, author="visitor", body="Hi")
    conversation.last_message_at = timezone.now() + timedelta(minutes=1)

    assert not rows.insert_and_update_if_unchanged(message, conversation, ["last_message_at"], version=version)

    assert message.pk is None
    assert not Message.objects.exists()
    assert fields_of(Conversation.objects.get(pk=conversation.pk)) == fields_of(before)


@row_versions_committed
def test_a_write_if_unchanged_of_a_repeat_leaves_both_rows_as_they_were():
    conversation = ConversationFactory()
    stored = Message.objects.create(conversation=conversation, author="visitor", body="Hi", client_id="c1")
    version = version_of(conversation)
    before = Conversation.objects.get(pk=conversation.pk)
    repeat = Message(conversation=conversation, author="visitor", body="Hi again", client_id="c1")
    conversation.last_message_at = timezone.now() + timedelta(minutes=1)

    assert not rows.insert_and_update_if_unchanged(repeat, conversation, ["last_message_at"], version=version)

    assert repeat.pk is None
    assert list(Message.objects.values_list("pk", "body")) == [(stored.pk, "Hi")]
    assert fields_of(Conversation.objects.get(pk=conversation.pk)) == fields_of(before)


def test_read_one_loads_the_model_as_the_orm_does_and_none_when_nothing_matches():
    agent = AgentFactory(online=True)

    found = rows.read_one(Agent, "t.id = %s AND t.is_active = %s", [agent.pk, True])

    assert fields_of(found) == fields_of(Agent.objects.get(pk=agent.pk))
    assert rows.read_one(Agent, "t.id = %s", [agent.pk + 1000]) is None


def test_a_message_stored_in_sql_is_the_message_the_orm_stores():
    conversation = ConversationFactory()
    by_orm = Message.objects.create(conversation=conversation, author="visitor", body="hi", client_id="c1")
    by_sql = Message(conversation=conversation, author="visitor", body="hi", client_id="c2")
    by_sql.created_at = by_orm.created_at

    rows.insert(by_sql)

    stored = {fields_of(message)["id"]: fields_of(message) for message in Message.objects.all()}
    assert stored[by_sql.pk] == fields_of(by_orm) | {"id": by_sql.pk, "client_id": "c2"}


def test_on_a_backend_that_cannot_return_keys_the_orm_inserts_instead(monkeypatch):
    from django.db import connection

    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    event = ConversationEvent(conversation=ConversationFactory(), kind="created")

    rows.insert(event)

    assert ConversationEvent.objects.get(pk=event.pk).kind == "created"


@pytest.mark.django_db(transaction=True)  # as after a commit: the one statement is its own transaction
def test_a_row_and_the_rows_pointing_to_it_are_stored_together():
    message = Message.objects.create(conversation=ConversationFactory(), author=Message.Author.VISITOR, body="Hello")
    agents = [AgentFactory(), AgentFactory()]
    episode = Episode(conversation=message.conversation, start_message=message, kind=Episode.Kind.MISSED)
    recipients = [EpisodeRecipient(agent=agent) for agent in agents]

    rows.insert_with(episode, "episode", recipients)

    assert fields_of(Episode.objects.get(pk=episode.pk)) == fields_of(episode)
    stored = EpisodeRecipient.objects.filter(episode=episode).order_by("pk")
    assert [fields_of(recipient) for recipient in stored] == [fields_of(recipient) for recipient in recipients]
    assert [recipient.agent_id for recipient in stored] == [agent.pk for agent in agents]


def test_when_a_pointing_row_is_refused_nothing_is_stored_and_the_transaction_goes_on():
    message = Message.objects.create(conversation=ConversationFactory(), author=Message.Author.VISITOR, body="Hello")
    agent = AgentFactory()
    episode = Episode(conversation=message.conversation, start_message=message, kind=Episode.Kind.MISSED)
    twice = [EpisodeRecipient(agent=agent), EpisodeRecipient(agent=agent)]  # one recipient per episode

    with transaction.atomic():
        with pytest.raises(IntegrityError):
            rows.insert_with(episode, "episode", twice)
        assert Episode.objects.filter(conversation=message.conversation).count() == 0
    assert EpisodeRecipient.objects.filter(agent=agent).count() == 0
