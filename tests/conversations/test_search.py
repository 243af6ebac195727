from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.http import QueryDict
from django.utils import timezone

from conversations.filters import ConversationFilter
from conversations.models import Channel, Conversation, Message
from conversations.selectors import conversation_search
from helpdesk.errors import ServiceError

from ..factories import AgentGroupFactory, ConversationFactory, MessageFactory, TagFactory, VisitorFactory

pytestmark = pytest.mark.django_db


def search(agent, query: str) -> list[Conversation]:
    return list(conversation_search(agent=agent, params=QueryDict(query)))


def test_rating_exact(owner):
    five, three = ConversationFactory(rating=5), ConversationFactory(rating=3)

    assert search(owner, "rating=5") == [five]
    assert three not in search(owner, "rating=5")


def test_rating_range(owner):
    low, mid, high = ConversationFactory(rating=1), ConversationFactory(rating=3), ConversationFactory(rating=5)

    assert search(owner, "rating_min=2&rating_max=4") == [mid]
    assert set(search(owner, "rating_min=3")) == {mid, high}
    assert low not in search(owner, "rating_min=3")


def test_agent(owner, agent, colleague):
    mine, theirs = ConversationFactory(assignee=agent), ConversationFactory(assignee=colleague)

    assert search(owner, f"agent={agent.pk}") == [mine]
    assert theirs not in search(owner, f"agent={agent.pk}")


def test_group(owner):
    sales, support = AgentGroupFactory(name="Sales"), AgentGroupFactory(name="Support")
    routed, other = ConversationFactory(group=sales), ConversationFactory(group=support)

    assert search(owner, f"group={sales.pk}") == [routed]
    assert other not in search(owner, f"group={sales.pk}")


def test_one_tag(owner):
    refund, vip = TagFactory(name="refund"), TagFactory(name="vip")
    tagged, other = ConversationFactory(tags=[refund]), ConversationFactory(tags=[vip])

    assert search(owner, f"tag={refund.pk}") == [tagged]
    assert other not in search(owner, f"tag={refund.pk}")


def test_several_tags_any(owner):
    refund, vip, spam = TagFactory(name="refund"), TagFactory(name="vip"), TagFactory(name="spam")
    first, second, both = (
        ConversationFactory(tags=[refund]),
        ConversationFactory(tags=[vip]),
        ConversationFactory(tags=[refund, vip]),
    )
    untagged = ConversationFactory(tags=[spam])

    found = search(owner, f"tag={refund.pk}&tag={vip.pk}")

    assert set(found) == {first, second, both}
    assert len(found) == 3  # a conversation with both tags is listed once
    assert untagged not in found


def test_several_tags_all(owner):
    refund, vip = TagFactory(name="refund"), TagFactory(name="vip")
    both, only_refund = ConversationFactory(tags=[refund, vip]), ConversationFactory(tags=[refund])

    assert search(owner, f"tag={refund.pk}&tag={vip.pk}&tag_match=all") == [both]
    assert only_refund not in search(owner, f"tag={refund.pk}&tag={vip.pk}&tag_match=all")


def test_website_url_contains_matches_percent_and_underscore_literally(owner):
    discounted = ConversationFactory(page_url="https://shop.example.com/sale?off=50%25_now")
    ConversationFactory(page_url="https://shop.example.com/sale?off=50")

    assert search(owner, urlencode({"url": "50%25_"})) == [discounted]
    assert search(owner, urlencode({"url": "_"})) == [discounted]


def test_website_url_contains_in_any_case(owner):
    checkout = ConversationFactory(page_url="https://shop.example.com/Checkout/step-2")
    home = ConversationFactory(page_url="https://shop.example.com/")

    assert search(owner, "url=checkout") == [checkout]
    assert home not in search(owner, "url=checkout")


def test_ip_address_exact(owner):
    here, there = ConversationFactory(ip_address="198.51.100.7"), ConversationFactory(ip_address="198.51.100.8")

    assert search(owner, "ip=198.51.100.7") == [here]
    assert there not in search(owner, "ip=198.51.100.7")


def test_ip_address_cidr_range(owner):
    inside, outside = ConversationFactory(ip_address="198.51.100.77"), ConversationFactory(ip_address="198.51.101.1")
    ConversationFactory(ip_address=None)

    assert search(owner, "ip=198.51.100.0/24") == [inside]
    assert outside not in search(owner, "ip=198.51.100.0/24")


def test_ipv6_cidr_range(owner):
    inside, outside = ConversationFactory(ip_address="2001:db8::1"), ConversationFactory(ip_address="2001:db9::1")

    assert search(owner, "ip=2001:db8::/32") == [inside]
    assert outside not in search(owner, "ip=2001:db8::/32")


def test_status(owner):
    open_, resolved = ConversationFactory(), ConversationFactory(status=Conversation.Status.RESOLVED)

    assert search(owner, "status=resolved") == [resolved]
    assert open_ not in search(owner, "status=resolved")


def test_channel(owner):
    web, email = ConversationFactory(), ConversationFactory(channel=Channel.EMAIL)

    assert search(owner, "channel=email") == [email]
    assert web not in search(owner, "channel=email")


def test_created_date_range(owner):
    now = timezone.now()
    old = ConversationFactory(created_at=now - timedelta(days=10))
    recent = ConversationFactory(created_at=now - timedelta(days=1))
    after = urlencode({"created_after": (now - timedelta(days=2)).isoformat()})
    before = urlencode({"created_before": (now - timedelta(days=5)).isoformat()})

    assert search(owner, after) == [recent]
    assert search(owner, before) == [old]


def test_created_after_a_plain_date(owner):
    recent = ConversationFactory()
    ConversationFactory(created_at=timezone.now() - timedelta(days=400))

    assert search(owner, f"created_after={(timezone.now() - timedelta(days=1)).date().isoformat()}") == [recent]


def test_resolved_date_range(owner):
    now = timezone.now()
    last_week = ConversationFactory(status=Conversation.Status.RESOLVED, resolved_at=now - timedelta(days=7))
    today = ConversationFactory(status=Conversation.Status.RESOLVED, resolved_at=now - timedelta(hours=1))
    ConversationFactory()  # open: never resolved

    since = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert search(owner, f"resolved_after={since}") == [today]
    assert search(owner, f"resolved_before={until}") == [last_week]


def test_visitor(owner):
    vera = VisitorFactory(name="Vera")
    hers, other = ConversationFactory(visitor=vera), ConversationFactory()

    assert search(owner, f"visitor={vera.pk}") == [hers]
    assert other not in search(owner, f"visitor={vera.pk}")


def test_words_in_messages(owner):
    refund = ConversationFactory()
    MessageFactory(conversation=refund, body="Hello, I would like a Refund for order 1234")
    greeting = ConversationFactory()
    MessageFactory(conversation=greeting, body="Hello there")

    assert search(owner, "q=refund") == [refund]
    assert search(owner, "q=hello+refund") == [refund]
    assert greeting not in search(owner, "q=refund")


def test_filters_combine(owner, agent):
    both = ConversationFactory(rating=5, assignee=agent)
    ConversationFactory(rating=5)
    ConversationFactory(assignee=agent, rating=2)

    assert search(owner, f"rating=5&agent={agent.pk}") == [both]


def test_newest_first(owner):
    first, second = ConversationFactory(), ConversationFactory()

    assert search(owner, "") == [second, first]


def test_limited_agent_finds_only_conversations_they_may_see(agent):
    theirs = AgentGroupFactory(name="Elsewhere")
    visible, hidden = ConversationFactory(rating=5), ConversationFactory(rating=5, group=theirs)

    found = search(agent, "rating=5")

    assert visible in found
    assert hidden not in found


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("colour=blue", "colour"),
        ("assignee__password=x", "assignee__password"),
        ("rating=five", "rating"),
        ("rating=9", "rating"),
        ("rating=2.5", "rating"),
        ("rating_min=0", "rating_min"),
        ("agent=999999", "agent"),
        ("agent=me", "agent"),
        ("group=abc", "group"),
        ("tag=999999", "tag"),
        ("tag_match=some", "tag_match"),
        ("ip=300.1.2.3", "ip"),
        ("ip=10.0.0.0/99", "ip"),
        ("status=closed", "status"),
        ("channel=fax", "channel"),
        ("created_after=yesterday", "created_after"),
        ("resolved_before=2026-13-45", "resolved_before"),
        ("resolved_after=5000-10-02T10%3A45%3A55-21%3A32", "resolved_after"),  # no time zone is 21 hours off
        ("created_before=9999-12-31T23%3A00%3A00-05%3A00", "created_before"),  # past the year 9999 in UTC
        ("created_before=9999-12-31T23%3A00%3A00-14%3A00", "created_before"),
        ("visitor=-1", "visitor"),
        ("rating=5&rating=4", "rating"),
        ("q=a%00b", "q"),
    ],
)
def test_unknown_or_malformed_filter_is_refused_naming_it(owner, query, field):
    with pytest.raises(ServiceError) as refused:
        search(owner, query)

    assert refused.value.field == field
    assert refused.value.http_status == 400


def test_a_moment_with_a_time_zone_offset_is_compared_in_utc(owner):
    from datetime import UTC, datetime

    ConversationFactory(created_at=datetime(2026, 5, 1, 9, 30, tzinfo=UTC))

    assert len(search(owner, "created_after=2026-05-01T11%3A00%3A00%2B02%3A00")) == 1  # 09:00 UTC
    assert search(owner, "created_after=2026-05-01T12%3A00%3A00%2B02%3A00") == []  # 10:00 UTC


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the full-text, inet and trigram indexes exist on PostgreSQL only"
)
def test_words_ip_ranges_and_urls_can_be_searched_through_indexes_on_postgresql(owner):
    MessageFactory(body="refund please")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned anyway

        words = Message.objects.filter(body__matches="refund").explain()
        addresses = conversation_search(agent=owner, params=QueryDict("ip=198.51.100.0/24")).explain()

        url = ConversationFilter(data=QueryDict("url=Checkout"), queryset=Conversation.objects.all()).qs
        urls = url.order_by().explain()

    assert "message_body_fts_idx" in words
    assert "conv_ip_idx" in addresses
    assert "conv_page_url_trgm_idx" in urls


def test_each_search_reads_its_own_filters(owner):
    """The filters are copied shallowly for each search: one search's values never leak into the next."""
    refund, vip = TagFactory(name="refund"), TagFactory(name="vip")
    both, only_refund = ConversationFactory(tags=[refund, vip]), ConversationFactory(tags=[refund])

    assert search(owner, f"tag={refund.pk}&tag={vip.pk}&tag_match=all") == [both]
    assert search(owner, f"tag={refund.pk}&tag={vip.pk}") == [only_refund, both]
    assert search(owner, "rating=5") == []
    assert search(owner, f"tag={vip.pk}") == [both]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel query exists on PostgreSQL only")
def test_conversations_tags_and_messages_are_never_scanned_by_parallel_workers():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)",
            [["conversations_conversation", "conversations_conversation_tags", "conversations_message"]],
        )
        options = dict(cursor.fetchall())

    assert len(options) == 3
    assert all("parallel_workers=0" in (table_options or []) for table_options in options.values())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="column statistics targets exist on PostgreSQL only")
def test_page_urls_keep_statistics_fine_enough_for_a_rare_url_to_look_rare():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstattarget FROM pg_attribute "
            "WHERE attrelid = 'conversations_conversation'::regclass AND attname = 'page_url'"
        )
        (target,) = cursor.fetchone()

    assert target == 1000
