"""Reads about agents and groups: who is online, lists for the API and the dashboard."""

import functools
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from . import rows
from .errors import ServiceError
from .models import Agent, AgentGroup, AgentOnlineSpan

AGENTS_AVAILABLE_CACHE_SECONDS = 5


def _online_since():
    return timezone.now() - timedelta(seconds=settings.AGENT_PRESENCE_TTL)


def agents_online() -> QuerySet[Agent]:
    """Agents who chose to be online, whose dashboard is connected, and who may chat."""
    return Agent.objects.filter(
        is_active=True, can_chat=True, status=Agent.Status.ONLINE, last_seen_at__gte=_online_since()
    )


def agents_online_with_membership(group_id: int | None) -> list[tuple[int, bool]]:
    """The ids of `agents_online()`, in order, each with whether the agent is in group `group_id`.

    Asked on every visitor message after a reply (notifications), so it is one statement in SQL: the
    ORM took longer to build the queries than the database to run them. The same rule as
    `agents_online`, which a test holds them to."""
    sql, params = agents_online_with_membership_sql(group_id)
    with rows.preparing_cursor() as cursor:
        cursor.execute(sql, params)
        return sorted((agent_id, bool(member)) for agent_id, member in cursor.fetchall())


def agents_online_with_membership_sql(group_id: int | None) -> tuple[str, list]:
    """The statement behind `agents_online_with_membership` (its rows in no order), for a caller that
    asks it together with something else in one round trip."""
    online_since = connection.ops.adapt_datetimefield_value(_online_since())
    return _online_with_membership_sql(connection.vendor), [group_id, True, True, Agent.Status.ONLINE, online_since]


@functools.cache
def _online_with_membership_sql(vendor: str) -> str:
    membership = Agent.groups.through._meta
    quote = connection.ops.quote_name
    return f"""SELECT a.id, EXISTS (
            SELECT 1 FROM {quote(membership.db_table)} m
            WHERE m.{quote(membership.get_field("agent").column)} = a.id
            AND m.{quote(membership.get_field("agentgroup").column)} = %s
        )
        FROM {quote(Agent._meta.db_table)} a
        WHERE a.is_active = %s AND a.can_chat = %s AND a.status = %s AND a.last_seen_at >= %s"""


def agents_online_at(moment) -> QuerySet[Agent]:
    """The agents who were online at `moment` (`AgentOnlineSpan`) and may chat now."""
    spans = AgentOnlineSpan.objects.filter(agent=OuterRef("pk"), started_at__lte=moment, until__gte=moment)
    return Agent.objects.filter(Exists(spans), is_active=True, can_chat=True)


def agents_online_at_with_membership(moment, group_id: int | None) -> list[tuple[int, bool]]:
    """`agents_online_with_membership`, as it was at `moment`: the ids of `agents_online_at`, in
    order, each with whether the agent is in group `group_id` (now)."""
    member = Exists(Agent.groups.through.objects.filter(agent=OuterRef("pk"), agentgroup=group_id))
    return sorted(agents_online_at(moment).annotate(member=member).values_list("pk", "member"))


# (time.monotonic() when it is to be asked again, the answer) of `any_agent_available`.
_available: tuple[float, bool] | None = None


def any_agent_available() -> bool:
    """Whether the chat box offers live chat or the offline contact form. Every open chat box asks on
    each ping (10,000 of them, 500 times a second), so each process keeps the answer for a few
    seconds: asking the shared cache instead took a fifth of a ping's CPU."""
    global _available
    now = time.monotonic()
    if _available is None or _available[0] <= now:
        _available = (now + AGENTS_AVAILABLE_CACHE_SECONDS, agents_online().exists())
    return _available[1]


def agents_list() -> QuerySet[Agent]:
    """The agents who can log in, with their groups."""
    return Agent.objects.filter(is_active=True).prefetch_related("groups").order_by("id")


def agent_get(*, agent_id: int) -> Agent:
    agent = agents_list().filter(pk=agent_id).first()
    if agent is None:
        raise ServiceError(_("No such agent."), code="not_found")
    return agent


def agent_who_can_log_in(*, agent_id: int) -> Agent | None:
    """The agent as stored now, or None when they can no longer log in. In SQL (`helpdesk.rows`): an
    open dashboard asks on every frame."""
    return rows.read_one(Agent, "t.id = %s AND t.is_active = %s", [agent_id, True])


def groups_list() -> QuerySet[AgentGroup]:
    return AgentGroup.objects.order_by("name")
