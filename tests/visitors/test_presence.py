import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from helpdesk import events as hub
from visitors import services
from visitors.presence import IDLE, LEFT, ONLINE, MemoryPresence, RedisPresence, presence, visitor_state
from visitors.tasks import settle_departures

from ..factories import VisitorFactory

TTL = 60


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        yield MemoryPresence()
        return
    redis_store = RedisPresence(request.getfixturevalue("redis_url"), prefix="helpdesk:presence-test")
    yield redis_store
    for key in redis_store._redis.scan_iter("helpdesk:presence-test*"):
        redis_store._redis.delete(key)


def test_a_connection_counts_until_its_heartbeat_expires(store):
    store.connect(1, "tab-a", now=1000)

    assert store.connection_count(1, now=1000 + TTL - 1) == 1
    assert store.connection_count(1, now=1000 + TTL + 1) == 0


def test_heartbeats_keep_a_connection_alive(store):
    store.connect(1, "tab-a", now=1000)
    store.connect(1, "tab-a", now=1050)

    assert store.connection_count(1, now=1100) == 1


def test_several_tabs_are_one_visitor_until_the_last_closes(store):
    store.connect(1, "tab-a", now=1000)
    store.connect(1, "tab-b", now=1000)

    assert store.disconnect(1, "tab-a", now=1001) == 1
    assert store.disconnect(1, "tab-b", now=1002) == 0


def test_departure_is_counted_from_the_last_closed_box(store):
    store.connect(1, "tab-a", now=1000)
    store.disconnect(1, "tab-a", now=1010)

    assert store.departed(before=1009, now=1070) == []
    assert store.departed(before=1010, now=1070) == [1]


def test_one_visitors_departure_is_told_without_listing_the_others(store):
    store.connect(1, "tab-a", now=1000)
    store.disconnect(1, "tab-a", now=1010)
    store.connect(2, "tab-b", now=1000)

    assert store.has_departed(1, before=1010, now=1070)
    assert not store.has_departed(1, before=1009, now=1070)
    assert not store.has_departed(2, before=1010, now=1020)  # still there
    assert not store.has_departed(3, before=1010, now=1070)  # never seen


def test_a_visitor_whose_server_died_departs_once_their_heartbeat_expired(store):
    store.connect(1, "tab-a", now=1000)  # and then the process died: no disconnect ever comes

    assert store.departed(before=1000 + TTL - 1, now=1000 + TTL - 1) == []
    assert store.departed(before=1000 + TTL, now=1000 + TTL + 1) == [1]


def test_forgetting_a_departure_succeeds_once(store):
    store.connect(1, "tab-a", now=1000)

    assert store.forget(1) is True
    assert store.forget(1) is False


def test_online_idle_and_left(store, monkeypatch):
    monkeypatch.setattr("visitors.presence.presence", lambda: store)
    store.connect(1, "tab-a", now=1000)
    store.touch(1, now=1000)

    assert visitor_state(1, now=1010) == ONLINE
    store.connect(1, "tab-a", now=1590)
    assert visitor_state(1, now=1601) == IDLE
    assert visitor_state(1, now=1700) == LEFT


# --- Arriving and leaving, as services -------------------------------------------------------------


@pytest.fixture
def announced():
    received = []
    hub.subscribe(received.append)
    yield received
    hub.unsubscribe(received.append)


def kinds(events):
    return [event["type"] for event in events]


@pytest.mark.django_db(transaction=True)
def test_a_visitor_who_closes_the_chat_box_has_left_only_after_the_grace_period(announced, settings):
    visitor = VisitorFactory()
    presence().connect(visitor.pk, "tab-a")
    services.visitor_disconnect(visitor_id=visitor.pk, connection="tab-a")

    assert services.visitor_settle_departure(visitor_id=visitor.pk) is False
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.VISITOR_LEFT_GRACE + 1)):
        assert services.visitor_settle_departure(visitor_id=visitor.pk) is True
        assert services.visitor_settle_departure(visitor_id=visitor.pk) is False

    assert kinds(announced) == ["visitor.left"]


@pytest.mark.django_db(transaction=True)
def test_moving_to_another_page_within_the_grace_period_is_not_leaving(announced, settings):
    visitor = VisitorFactory()
    presence().connect(visitor.pk, "page-1")
    services.visitor_disconnect(visitor_id=visitor.pk, connection="page-1")
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        presence().connect(visitor.pk, "page-2")

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.VISITOR_LEFT_GRACE + 5)):
        settle_departures()

    assert kinds(announced) == []


@pytest.mark.django_db(transaction=True)
def test_the_periodic_sweep_settles_visitors_whose_server_process_died(announced, settings):
    visitor = VisitorFactory()
    presence().connect(visitor.pk, "tab-on-a-dead-process")

    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.VISITOR_PRESENCE_TTL + settings.VISITOR_LEFT_GRACE + 1)
    ):
        settle_departures()
        settle_departures()

    assert kinds(announced) == ["visitor.left"]
    assert announced[0]["visitor"]["id"] == visitor.pk


@pytest.mark.django_db(transaction=True)
def test_arrival_is_announced_once_per_visit(announced):
    first = services.visitor_arrive(key=None, connection="tab-a")
    services.visitor_arrive(key=str(first.key), connection="tab-b")

    assert kinds(announced) == ["visitor.arrived"]
    assert time.time() - first.last_seen_at.timestamp() < 5


@pytest.mark.django_db(transaction=True)
def test_a_visitor_who_just_arrived_is_online_not_idle():
    visitor = services.visitor_arrive(key=None, connection="tab-a")

    assert visitor_state(visitor.pk) == ONLINE


def test_snapshot_tells_connections_and_activity_of_many_visitors(store):
    store.connect(1, "tab-a", now=1000)
    store.connect(1, "tab-b", now=1000)
    store.touch(1, now=1005)

    assert store.snapshot([1, 2], now=1010) == {1: (2, 1005.0), 2: (0, None)}
    assert store.snapshot([1], now=1000 + TTL + 1) == {1: (0, 1005.0)}


def test_states_of_many_visitors_come_at_once(settings):
    from visitors.presence import visitor_states

    store = presence()
    store.connect(1, "box-1", now=1000.0)
    store.touch(1, now=1000.0)
    store.connect(2, "box-2", now=1000.0)

    assert visitor_states([1, 2, 3], now=1001.0) == {1: ONLINE, 2: IDLE, 3: LEFT}
    assert visitor_states([], now=1001.0) == {}
    assert visitor_states([1], now=1000.0 + settings.VISITOR_PRESENCE_TTL + 1) == {1: LEFT}
