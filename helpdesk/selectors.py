"""Reads of agents and groups, for the API and the dashboard."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from .errors import ServiceError
from .models import Agent, AgentGroup


def agents_list() -> QuerySet[Agent]:
    """The agents who can log in, with their groups."""
    return Agent.objects.filter(is_active=True).prefetch_related("groups").order_by("id")


def agent_get(*, agent_id: int) -> Agent:
    agent = agents_list().filter(pk=agent_id).first()
    if agent is None:
        raise ServiceError(_("No such agent."), code="not_found")
    return agent


def groups_list() -> QuerySet[AgentGroup]:
    return AgentGroup.objects.order_by("name")
