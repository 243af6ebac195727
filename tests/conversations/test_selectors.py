import pytest

from conversations import selectors, services
from conversations.permissions import can_resolve, why_cannot_resolve
from helpdesk.errors import ServiceError
from helpdesk.models import Agent

from ..factories import AgentFactory, AgentGroupFactory, ConversationFactory

pytestmark = pytest.mark.django_db


def test_a_single_agent_without_groups_sees_only_all_and_new(owner):
    assert selectors.inbox_tabs() == ("all", "new")
    assert set(selectors.inbox_counts(owner)) == {"all", "new"}


def test_with_a_second_agent_every_open_subcategory_shows(owner, agent):
    assert selectors.inbox_tabs() == ("all", "primary", "new", "mine")


def test_with_groups_every_open_subcategory_shows_even_for_one_agent(owner):
    AgentGroupFactory()

    assert selectors.inbox_tabs() == ("all", "primary", "new", "mine")


def test_open_subcategory_counts(agent, colleague):
    sales = AgentGroupFactory(name="Sales")
    support = AgentGroupFactory(name="Support")
    agent.groups.set([sales])
    ConversationFactory()  # new, for no group in particular
    ConversationFactory(group=sales)  # new, for my group
    ConversationFactory(group=support)  # another group's: not mine to see
    mine = ConversationFactory()
    services.conversation_join(conversation=mine, actor=agent)
    services.conversation_join(conversation=ConversationFactory(), actor=colleague)  # a colleague's
    services.conversation_resolve(conversation=ConversationFactory(assignee=agent), actor=agent)  # resolved

    assert selectors.inbox_counts(agent) == {"all": 4, "primary": 3, "new": 2, "mine": 1}
    assert [c.pk for c in selectors.inbox_conversations(agent, "mine")] == [mine.pk]


def test_full_access_agent_sees_every_groups_conversations(full_agent, agent):
    AgentGroupFactory(name="Sales")
    ConversationFactory(group=AgentGroupFactory(name="Support"))

    assert selectors.inbox_counts(full_agent)["all"] == 1
    assert selectors.inbox_counts(agent)["all"] == 0


def test_inbox_lists_most_recent_activity_first(owner):
    older = ConversationFactory()
    newer = ConversationFactory()
    services.message_create(conversation=older, author="visitor", body="bump")

    assert list(selectors.inbox_conversations(owner, "all")) == [older, newer]


def test_unknown_tab_is_refused(owner):
    with pytest.raises(ServiceError) as refused:
        selectors.inbox_conversations(owner, "everything")

    assert refused.value.field == "tab"


def test_a_conversation_of_another_group_is_not_found_for_a_limited_agent(agent):
    hidden = ConversationFactory(group=AgentGroupFactory(name="Support"))

    with pytest.raises(ServiceError) as refused:
        selectors.conversation_for_agent(agent=agent, conversation_id=hidden.pk)

    assert refused.value.code == "not_found"


def test_resolve_permission_explains_the_refusal(conversation, agent, colleague):
    conversation.assignee = colleague

    assert not can_resolve(agent, conversation)
    assert "assigned agent" in why_cannot_resolve(agent, conversation)
    assert can_resolve(colleague, conversation)
    assert can_resolve(AgentFactory(role=Agent.Role.OWNER), conversation)
