from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from helpdesk import selectors, services
from helpdesk.errors import ServiceError
from helpdesk.models import Agent

from ..factories import AgentFactory, AgentGroupFactory

pytestmark = pytest.mark.django_db


def test_owner_adds_an_agent_to_groups(owner):
    sales = AgentGroupFactory(name="Sales")

    agent = services.agent_create(
        actor=owner, email="New@Example.com", name="Nora", password="a-long-passphrase-1", groups=[sales]
    )

    assert agent.email == "new@example.com"
    assert agent.role == Agent.Role.LIMITED
    assert agent.check_password("a-long-passphrase-1")
    assert list(agent.groups.all()) == [sales]


def test_agent_without_a_password_sets_one_through_the_reset_email(owner):
    agent = services.agent_create(actor=owner, email="nopass@example.com", name="Nina", password=None)

    assert not agent.has_usable_password()


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("email", {"email": "agent0@example.com"}),
        ("email", {"email": "Agent0@Example.com"}),
        ("email", {"email": "nope"}),
        ("password", {"password": "123"}),
        ("role", {"role": "admin"}),
        ("name", {"name": "  "}),
    ],
)
def test_invalid_new_agent_is_refused_naming_the_field(owner, field, changes):
    AgentFactory(email="agent0@example.com")
    data = {"email": "ok@example.com", "name": "Ok", "password": "a-long-passphrase-1"} | changes

    with pytest.raises(ServiceError) as refused:
        services.agent_create(actor=owner, **data)

    assert refused.value.field == field


@pytest.fixture
def email_taken_just_before_the_save(monkeypatch):
    """Another owner's new agent with nora@example.com is stored between the service's check and its save."""
    saved = Agent.save

    def taken_then_saved(agent, *args, **kwargs):
        if not Agent.objects.filter(email="nora@example.com").exists():
            Agent.objects.bulk_create([Agent(email="nora@example.com", name="The other Nora")])
        return saved(agent, *args, **kwargs)

    monkeypatch.setattr(Agent, "save", taken_then_saved)


def test_a_new_agents_email_taken_meanwhile_is_refused_on_the_email_field(owner, email_taken_just_before_the_save):
    from django.db import transaction

    with transaction.atomic():
        with pytest.raises(ServiceError) as refused:
            services.agent_create(actor=owner, email="Nora@Example.com", name="Nora", password=None)
        noras = list(Agent.objects.filter(name__contains="Nora").values_list("name", flat=True))

    assert (refused.value.field, refused.value.code) == ("email", "conflict")
    assert refused.value.message == "Another agent already uses this email address."
    assert "Nora" not in noras


def test_an_email_change_to_one_taken_meanwhile_is_refused_on_the_email_field(
    owner, agent, email_taken_just_before_the_save
):
    with pytest.raises(ServiceError) as refused:
        services.agent_update(agent=agent, actor=owner, email="nora@example.com")

    assert (refused.value.field, refused.value.code) == ("email", "conflict")
    agent.refresh_from_db()
    assert agent.email != "nora@example.com"


def test_only_the_owner_adds_agents(full_agent):
    with pytest.raises(ServiceError) as refused:
        services.agent_create(actor=full_agent, email="x@example.com", name="X", password=None)

    assert refused.value.code == "forbidden"


def test_agent_changes_their_own_profile_but_not_their_role(agent):
    services.agent_update(agent=agent, actor=agent, public_name="Lili", language="hu")

    with pytest.raises(ServiceError) as refused:
        services.agent_update(agent=agent, actor=agent, role=Agent.Role.FULL)

    agent.refresh_from_db()
    assert (agent.public_name, agent.language, agent.role) == ("Lili", "hu", Agent.Role.LIMITED)
    assert refused.value.code == "forbidden"


def test_owner_deactivates_an_agent_who_can_then_only_read(owner, agent):
    services.agent_update(agent=agent, actor=owner, can_chat=False)

    agent.refresh_from_db()
    assert agent.is_active and not agent.can_chat


@pytest.mark.parametrize("changes", [{"role": Agent.Role.FULL}, {"is_active": False}])
def test_the_last_owner_cannot_be_demoted_or_locked_out(owner, changes):
    with pytest.raises(ServiceError) as refused:
        services.agent_update(agent=owner, actor=owner, **changes)

    owner.refresh_from_db()
    assert owner.role == Agent.Role.OWNER and owner.is_active
    assert refused.value.code == "conflict"


def test_an_owner_steps_down_once_another_owner_exists(owner):
    AgentFactory(role=Agent.Role.OWNER)

    services.agent_update(agent=owner, actor=owner, role=Agent.Role.FULL)

    owner.refresh_from_db()
    assert owner.role == Agent.Role.FULL


def test_agent_is_online_while_heartbeats_keep_coming(agent):
    services.agent_set_status(agent=agent, status=Agent.Status.ONLINE)
    assert agent.is_online

    with time_machine.travel(timezone.now() + timedelta(seconds=60)):
        services.agent_heartbeat(agent=agent)
    with time_machine.travel(timezone.now() + timedelta(seconds=120)):
        assert Agent.objects.get(pk=agent.pk).is_online
    with time_machine.travel(timezone.now() + timedelta(seconds=60 + 91)):
        assert not Agent.objects.get(pk=agent.pk).is_online


def test_who_was_online_at_a_moment_is_who_was_online_then(agent, colleague):
    """The record of online spans answers later what `agents_online` answered at the time: through
    heartbeats, a dashboard that went quiet, and choosing offline and online again."""
    start = timezone.now()
    timeline = [
        (0, lambda: services.agent_set_status(agent=agent, status=Agent.Status.ONLINE)),
        (60, lambda: services.agent_heartbeat(agent=agent)),
        (100, lambda: services.agent_set_status(agent=colleague, status=Agent.Status.OFFLINE)),
        (300, lambda: services.agent_heartbeat(agent=agent)),  # quiet for longer than the TTL: back now
        (320, lambda: services.agent_update(agent=agent, actor=agent, status=Agent.Status.OFFLINE)),
        (340, lambda: services.agent_heartbeat(agent=Agent.objects.get(pk=agent.pk))),  # connected, chose offline
        (360, lambda: services.agent_set_status(agent=agent, status=Agent.Status.ONLINE)),
    ]
    seen_then = {}
    with time_machine.travel(start, tick=False) as clock:
        for second in range(0, 480, 10):
            clock.move_to(start + timedelta(seconds=second))
            for _at, change in [event for event in timeline if event[0] == second]:
                change()
            clock.shift(timedelta(seconds=5))  # between changes: at the very moment of one, both answers hold
            seen_then[timezone.now()] = set(selectors.agents_online().values_list("pk", flat=True))

    assert {agent.pk, colleague.pk} in seen_then.values() and set() in seen_then.values()
    for moment, online in seen_then.items():
        assert set(selectors.agents_online_at(moment).values_list("pk", flat=True)) == online, moment


def test_records_of_when_agents_were_online_are_deleted_after_the_keeping_time(settings):
    from helpdesk.models import AgentOnlineSpan
    from helpdesk.tasks import purge_online_spans

    settings.AGENT_ONLINE_SPANS_KEEP_DAYS = 30
    agent, colleague = AgentFactory(), AgentFactory()
    now = timezone.now()

    def span(agent, started_days_ago, ended_days_ago):
        return AgentOnlineSpan.objects.create(
            agent=agent, started_at=now - timedelta(days=started_days_ago), until=now - timedelta(days=ended_days_ago)
        )

    span(agent, 32, 31)
    ended_within = span(agent, 31, 29)
    online_for_weeks = span(colleague, 40, -0.001)  # still online: until is after now

    with time_machine.travel(now, tick=False):
        purge_online_spans.delay()

    assert set(AgentOnlineSpan.objects.all()) == {ended_within, online_for_weeks}
    with time_machine.travel(now - timedelta(days=31, hours=-1), tick=False):
        online_then = set(selectors.agents_online_at(timezone.now()).values_list("pk", flat=True))
    assert agent.pk in online_then


def test_agent_who_chose_offline_is_offline_even_when_connected(agent):
    services.agent_set_status(agent=agent, status=Agent.Status.OFFLINE)
    services.agent_heartbeat(agent=agent)

    assert not agent.is_online


def test_unknown_status_is_refused(agent):
    with pytest.raises(ServiceError) as refused:
        services.agent_set_status(agent=agent, status="away")

    assert refused.value.field == "status"


def test_the_demo_owner_starts_online_so_the_demo_shop_offers_live_chat(capsys):
    from django.core.management import call_command

    call_command("create_demo_owner")

    owner = Agent.objects.get(email="owner@example.com")
    assert owner.is_owner and owner.status == Agent.Status.ONLINE
    assert "owner@example.com / " in capsys.readouterr().out
