"""A pooled connection is handed out without a round trip while it is good, and replaced when the
server has dropped it; the chat path's statements are prepared once per connection."""

import time

import psycopg
import pytest
from django.db import connection

from helpdesk import rows
from helpdesk.models import Agent
from helpdesk.postgresql.base import check_pooled_connection

from ..factories import AgentFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's pool and prepared statements")


@pytest.fixture
def server_calls(monkeypatch):
    from psycopg_pool import ConnectionPool

    calls = []
    original = ConnectionPool.check_connection
    monkeypatch.setattr(ConnectionPool, "check_connection", lambda conn: (calls.append(conn), original(conn)))
    return calls


def connect() -> psycopg.Connection:
    return psycopg.connect(**connection_parameters(), autocommit=True)


def connection_parameters() -> dict:
    settings = connection.settings_dict
    return {"dbname": settings["NAME"], "user": settings["USER"], "host": settings["HOST"], "port": settings["PORT"]}


@pytest.fixture
def raw_connection():
    with connect() as conn:
        yield conn


def terminate(pid: int) -> None:
    with connect() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.2)  # for the server's goodbye to reach the socket


def last_statement(pid: int) -> str:
    with connect() as other:
        return other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


def test_a_good_connection_passes_without_asking_the_server(raw_connection, server_calls):
    raw_connection.execute("SELECT 1").fetchall()

    check_pooled_connection(raw_connection)

    assert server_calls == []


def test_a_connection_the_server_dropped_fails_the_check(raw_connection, server_calls):
    terminate(raw_connection.info.backend_pid)

    with pytest.raises(psycopg.OperationalError):
        check_pooled_connection(raw_connection)
    assert server_calls == [raw_connection]


def test_a_closed_connection_fails_the_check(raw_connection):
    raw_connection.close()

    with pytest.raises(psycopg.OperationalError):
        check_pooled_connection(raw_connection)


@pytest.mark.django_db(transaction=True)
def test_a_pooled_connection_is_handed_out_without_a_statement():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'last of the previous request'")
    connection.close()  # back to the pool, as at the end of a request

    connection.ensure_connection()  # taken from the pool, as by the next request

    assert last_statement(connection.connection.info.backend_pid) != ""


def test_the_pool_hands_out_a_new_connection_in_place_of_one_the_server_dropped():
    from psycopg_pool import ConnectionPool

    with ConnectionPool(
        kwargs=connection_parameters() | {"autocommit": True},
        min_size=1,
        max_size=1,
        check=check_pooled_connection,
    ) as pool:
        with pool.connection() as conn:
            dropped = conn.info.backend_pid
        terminate(dropped)

        with pool.connection() as conn:
            assert conn.execute("SELECT pg_backend_pid()").fetchone()[0] != dropped


def prepared_statements_like(pattern: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [pattern])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_a_chat_path_statement_run_again_is_prepared_once_and_reads_the_same():
    agents = AgentFactory.create_batch(6)

    read = [rows.read_one(Agent, "t.id = %s AND t.is_active = %s", [agent.pk, True]) for agent in agents]

    assert [found.pk for found in read] == [agent.pk for agent in agents]
    assert {found.email for found in read} == {agent.email for agent in agents}
    assert prepared_statements_like('%FROM "helpdesk_agent" t WHERE t.id = $1 AND t.is_active = $2%') == 1
    for agent in agents:
        Agent.objects.filter(pk=agent.pk).first()
    assert prepared_statements_like('%"helpdesk_agent"."id" =%') == 0  # the ORM's statements are not
