from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from helpdesk import selectors
from helpdesk.models import Agent

from ..factories import AgentFactory, AgentGroupFactory

pytestmark = pytest.mark.django_db


def test_the_sql_form_of_who_is_online_agrees_with_the_orm_form():
    sales, support = AgentGroupFactory(name="Sales"), AgentGroupFactory(name="Support")
    stale = timezone.now() - timedelta(seconds=settings.AGENT_PRESENCE_TTL + 5)
    seller = AgentFactory(online=True, groups=[sales])
    helper = AgentFactory(online=True, groups=[support])
    both = AgentFactory(online=True, groups=[sales, support])
    AgentFactory(online=True, groups=[sales], is_active=False)
    AgentFactory(online=True, groups=[sales], can_chat=False)
    AgentFactory(online=True, groups=[sales], status=Agent.Status.OFFLINE)
    AgentFactory(online=True, groups=[sales], last_seen_at=stale)
    AgentFactory(groups=[sales])  # never connected

    with_sales = selectors.agents_online_with_membership(sales.pk)

    assert [agent_id for agent_id, _member in with_sales] == sorted(
        selectors.agents_online().values_list("pk", flat=True)
    )
    assert with_sales == [(seller.pk, True), (helper.pk, False), (both.pk, True)]
    assert selectors.agents_online_with_membership(None) == [(seller.pk, False), (helper.pk, False), (both.pk, False)]
    assert selectors.agents_online_at_with_membership(timezone.now(), sales.pk) == with_sales
