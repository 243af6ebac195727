"""On PostgreSQL each conversation's `tag_ids` array is kept by triggers on its tag links (migration
0007) and answers tag searches: it must follow every way links change, or a search would miss a
tagged conversation or list an untagged one."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.http import QueryDict

from conversations import services
from conversations.filters import ConversationFilter
from conversations.models import Conversation, Tag
from conversations.selectors import conversation_search

from ..factories import ConversationFactory, TagFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the tag id arrays exist on PostgreSQL only")


def tag_ids(conversation: Conversation) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tag_ids FROM conversations_conversation WHERE id = %s", [conversation.pk])
        return sorted(cursor.fetchone()[0])


def linked(conversation: Conversation) -> list[int]:
    return sorted(conversation.tags.values_list("pk", flat=True))


@pytest.mark.django_db
def test_the_array_follows_tagging_untagging_the_admin_and_deleting_a_tag(full_agent):
    refund, vip, spam = TagFactory(name="refund"), TagFactory(name="vip"), TagFactory(name="spam")
    conversation, other = ConversationFactory(), ConversationFactory(tags=[refund, spam])

    services.conversation_tag(conversation=conversation, tag=refund, actor=full_agent)
    services.conversation_tag(conversation=conversation, tag=vip, actor=full_agent)
    assert tag_ids(conversation) == linked(conversation) == sorted([refund.pk, vip.pk])

    services.conversation_untag(conversation=conversation, tag=refund, actor=full_agent)
    assert tag_ids(conversation) == [vip.pk]

    conversation.tags.set([spam, refund])  # as the admin's form saves them
    assert tag_ids(conversation) == sorted([spam.pk, refund.pk])

    services.tag_delete(tag=refund, actor=full_agent)
    assert tag_ids(conversation) == [spam.pk]
    assert tag_ids(other) == [spam.pk]

    Tag.objects.all().delete()
    assert tag_ids(conversation) == tag_ids(other) == []


@pytest.mark.django_db
def test_a_tag_whose_id_is_beyond_32_bits_is_kept_and_found(owner, full_agent):
    big = Tag.objects.create(id=3_000_000_000, name="big")
    conversation = ConversationFactory()

    services.conversation_tag(conversation=conversation, tag=big, actor=full_agent)

    assert tag_ids(conversation) == [big.pk]
    assert list(conversation_search(agent=owner, params=QueryDict(f"tag={big.pk}&tag_match=all"))) == [conversation]


@pytest.mark.django_db
def test_an_id_found_twice_in_the_array_goes_with_one_untagging(full_agent):
    refund = TagFactory(name="refund")
    conversation = ConversationFactory(tags=[refund])
    with connection.cursor() as cursor:  # as a restore with the triggers on can leave it
        cursor.execute("UPDATE conversations_conversation SET tag_ids = tag_ids || %s::bigint", [refund.pk])

    services.conversation_tag(conversation=conversation, tag=TagFactory(name="vip"), actor=full_agent)
    services.conversation_untag(conversation=conversation, tag=refund, actor=full_agent)

    assert refund.pk not in tag_ids(conversation)


@pytest.mark.django_db
def test_the_triggers_work_with_an_empty_search_path_as_a_restore_sets_it():
    refund = TagFactory(name="refund")
    conversation = ConversationFactory()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
        cursor.execute("SET LOCAL search_path = ''")
        cursor.execute(
            f'INSERT INTO "{schema}".conversations_conversation_tags (conversation_id, tag_id) VALUES (%s, %s)',
            [conversation.pk, refund.pk],
        )
        cursor.execute(f"SET LOCAL search_path = {connection.ops.quote_name(schema)}")

    assert tag_ids(conversation) == [refund.pk]


@pytest.mark.django_db
def test_emptying_the_links_at_once_empties_the_arrays():
    conversation = ConversationFactory(tags=[TagFactory(name="refund")])
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the links just made are checked now, not at commit
        cursor.execute("TRUNCATE conversations_conversation_tags")

    assert tag_ids(conversation) == []


@pytest.mark.django_db
def test_a_search_for_all_of_two_tags_uses_the_array_index(owner):
    refund, vip = TagFactory(name="refund"), TagFactory(name="vip")
    ConversationFactory(tags=[refund, vip])
    params = QueryDict(f"tag={refund.pk}&tag={vip.pk}&tag_match=all")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned anyway
        plan = ConversationFilter(data=params, queryset=Conversation.objects.all()).qs.order_by().explain()

    assert "conv_tag_ids_idx" in plan


@pytest.mark.django_db
def test_a_tag_search_inside_another_query_reads_the_right_table(owner):
    refund = TagFactory(name="refund")
    tagged, _other = ConversationFactory(tags=[refund]), ConversationFactory()
    found = conversation_search(agent=owner, params=QueryDict(f"tag={refund.pk}")).values("pk")

    assert list(Conversation.objects.filter(pk__in=found)) == [tagged]


@pytest.mark.django_db(transaction=True)
def test_two_agents_tagging_one_conversation_at_once_both_keep_their_tag(full_agent, owner):
    refund, vip = TagFactory(name="refund"), TagFactory(name="vip")
    conversation = ConversationFactory()
    first_tagged, second_started = threading.Event(), threading.Event()
    errors = []

    def tag(tag, actor, before_commit):
        try:
            with transaction.atomic():
                services.conversation_tag(conversation=conversation, tag=tag, actor=actor)
                before_commit()
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    def first_waits_for_the_second():
        first_tagged.set()
        second_started.wait(5)

    first = threading.Thread(target=tag, args=(refund, full_agent, first_waits_for_the_second))
    first.start()
    first_tagged.wait(5)
    # The second agent's tag waits for the first agent's transaction, then adds to what it left.
    second = threading.Thread(target=tag, args=(vip, owner, lambda: None))
    second.start()
    second.join(0.5)
    second_started.set()
    first.join(10)
    second.join(10)

    assert errors == []
    assert tag_ids(conversation) == linked(conversation) == sorted([refund.pk, vip.pk])


@pytest.mark.django_db(transaction=True)
def test_upgrading_fills_the_array_from_the_links_already_there():
    executor = MigrationExecutor(connection)
    executor.migrate([("conversations", "0006_page_url_finer_statistics")])
    refund, vip = TagFactory(name="refund"), TagFactory(name="vip")
    both, untagged = ConversationFactory(), ConversationFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO conversations_conversation_tags (conversation_id, tag_id) VALUES (%s, %s), (%s, %s)",
            [both.pk, refund.pk, both.pk, vip.pk],
        )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert tag_ids(both) == sorted([refund.pk, vip.pk])
    assert tag_ids(untagged) == []
