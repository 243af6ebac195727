"""The notification rules, on a controlled clock: nothing here sleeps."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from conversations import services as conversation_services
from conversations.models import Message
from helpdesk import events as hub
from helpdesk import services as account_services
from helpdesk.errors import ServiceError
from helpdesk.models import Agent
from notifications import services
from notifications.models import Episode
from notifications.selectors import notification_settings_of
from notifications.tasks import send_notification, settle_notifications
from visitors import services as visitor_services
from visitors.presence import presence
from visitors.tasks import settle_departures

from ..factories import AgentFactory, AgentGroupFactory, ConversationFactory, VisitorFactory

pytestmark = pytest.mark.django_db

DELAY = 30
GRACE = 60


@pytest.fixture(autouse=True)
def clock(settings):
    settings.NOTIFICATION_OFFLINE_DELAY = DELAY
    settings.VISITOR_LEFT_GRACE = GRACE
    settings.SITE_URL = "https://help.example.com"
    with time_machine.travel(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    """Run what follows a commit (events, tasks) as it would in production."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def published():
    received = []
    hub.subscribe(received.append)
    yield received
    hub.unsubscribe(received.append)


@pytest.fixture
def vera(db):
    visitor = VisitorFactory(name="Vera Visitor", email="vera@example.com", city="Szeged", country="HU")
    presence().connect(visitor.pk, "tab-1")  # her chat box is open
    return visitor


@pytest.fixture
def offline_agents(db):
    return [AgentFactory(name="Olivér Offline"), AgentFactory(name="Ottó Offline")]


def writes(after_commit, visitor, body="Hello, is anyone there?", **fields):
    with after_commit():
        return conversation_services.visitor_message_create(
            visitor=visitor, body=body, page_url="https://shop.example.com/cart", **fields
        )


def replies(after_commit, conversation, agent, body="Hi, how can I help?"):
    with after_commit():
        return conversation_services.message_create(
            conversation=conversation, author=Message.Author.AGENT, agent=agent, body=body
        )


def leaves(after_commit, clock, visitor):
    """Every chat box closes and none comes back within the grace period; the visitors' sweep
    announces the departure."""
    presence().disconnect(visitor.pk, "tab-1")
    clock.shift(timedelta(seconds=GRACE + 1))
    with after_commit():
        settle_departures()


def sweep(after_commit):
    with after_commit():
        settle_notifications()


def recipients(mailoutbox) -> list[str]:
    return sorted(address for mail in mailoutbox for address in mail.to)


# --- Offline messages ------------------------------------------------------------------------------


def test_visitor_writing_while_everyone_is_offline_emails_every_agent_after_the_debounce(
    clock, after_commit, vera, offline_agents, mailoutbox
):
    message = writes(after_commit, vera)

    clock.shift(timedelta(seconds=DELAY - 1))
    sweep(after_commit)
    assert mailoutbox == []

    clock.shift(timedelta(seconds=2))
    sweep(after_commit)
    assert recipients(mailoutbox) == sorted(agent.email for agent in offline_agents)
    mail = mailoutbox[0]
    assert mail.subject == "New message from Vera Visitor"
    assert "Hello, is anyone there?" in mail.body
    assert f"https://help.example.com/conversations/{message.conversation_id}/" in mail.body
    assert "vera@example.com" in mail.body
    assert "Szeged, HU" in mail.body
    assert "https://shop.example.com/cart" in mail.body
    assert mail.alternatives[0].mimetype == "text/html"
    assert "Hello, is anyone there?" in mail.alternatives[0].content


def test_several_messages_in_a_row_make_one_email_with_all_of_them(
    clock, after_commit, vera, offline_agents, mailoutbox
):
    writes(after_commit, vera, "First")
    clock.shift(timedelta(seconds=10))
    writes(after_commit, vera, "Second")
    clock.shift(timedelta(seconds=10))
    writes(after_commit, vera, "Third")

    clock.shift(timedelta(seconds=DELAY))
    sweep(after_commit)

    assert recipients(mailoutbox) == sorted(agent.email for agent in offline_agents)
    body = mailoutbox[0].body
    assert body.index("First") < body.index("Second") < body.index("Third")
    assert Episode.objects.count() == 1


def test_an_agent_reply_before_the_check_sends_nothing(clock, after_commit, vera, offline_agents, mailoutbox):
    message = writes(after_commit, vera)
    replies(after_commit, message.conversation, offline_agents[0])

    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    assert mailoutbox == []
    assert Episode.objects.get().state == Episode.State.CANCELLED


def test_the_reply_is_checked_again_at_the_moment_of_sending(clock, after_commit, vera, offline_agents, mailoutbox):
    """Even when the reply's own event never reached this app, the check sees the reply."""
    message = writes(after_commit, vera)
    conversation_services.message_create(
        conversation=message.conversation, author=Message.Author.AGENT, agent=offline_agents[0], body="On it"
    )  # its after-commit work never ran

    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    assert mailoutbox == []
    assert Episode.objects.get().reason == "answered"


def test_the_offline_contact_form_and_the_group_of_the_conversation(clock, after_commit, vera, mailoutbox):
    sales = AgentGroupFactory(name="Sales")
    seller = AgentFactory(groups=[sales])
    AgentFactory()  # another team's agent
    AgentFactory(groups=[sales], can_chat=False)  # inactive: cannot answer

    writes(after_commit, vera, group_id=sales.pk)
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    assert recipients(mailoutbox) == [seller.email]


def test_an_online_agent_of_another_group_does_not_stop_the_offline_message(clock, after_commit, vera, mailoutbox):
    sales = AgentGroupFactory(name="Sales")
    seller = AgentFactory(groups=[sales])
    AgentFactory(online=True)  # online, but not in Sales

    writes(after_commit, vera, group_id=sales.pk)
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    assert recipients(mailoutbox) == [seller.email]


def test_an_agent_who_switched_offline_messages_off_gets_none(clock, after_commit, vera, offline_agents, mailoutbox):
    quiet, other = offline_agents
    services.notification_settings_update(agent=quiet, actor=quiet, offline_messages=False, missed_conversations=True)

    writes(after_commit, vera)
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    assert recipients(mailoutbox) == [other.email]


def test_email_in_the_agents_language_hungarian(clock, after_commit, vera, mailoutbox):
    AgentFactory(language="hu")

    writes(after_commit, vera)
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    mail = mailoutbox[0]
    assert mail.subject == "Új üzenet: Vera Visitor"
    assert "Beszélgetés megnyitása" in mail.body
    assert "Beszélgetés megnyitása" in mail.alternatives[0].content


def test_card_numbers_are_masked_in_the_email(clock, after_commit, vera, offline_agents, mailoutbox):
    writes(after_commit, vera, "My card is 4111 1111 1111 1111")
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    for mail in mailoutbox:
        assert "4111 1111 1111 1111" not in mail.body
        assert "1111" in mail.body
        assert "4111 1111 1111 1111" not in mail.alternatives[0].content


def test_a_header_injection_through_the_visitors_name_stays_on_one_line(clock, after_commit, mailoutbox):
    AgentFactory()
    sneaky = VisitorFactory(name="Eve\nBcc: everyone@example.com")
    writes(after_commit, sneaky)
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    assert mailoutbox[0].subject == "New message from Eve Bcc: everyone@example.com"
    assert "Bcc" not in mailoutbox[0].extra_headers


def test_a_reopened_conversation_is_a_new_episode(clock, after_commit, vera, offline_agents, mailoutbox, owner):
    message = writes(after_commit, vera)
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)
    assert len(mailoutbox) == 3  # two agents and the owner
    with after_commit():
        conversation_services.conversation_resolve(conversation=message.conversation, actor=owner)

    clock.shift(timedelta(hours=1))
    writes(after_commit, vera, "One more thing")
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    assert len(mailoutbox) == 6
    assert "One more thing" in mailoutbox[-1].body


def test_more_messages_on_the_same_visit_after_the_email_send_no_second_one(
    clock, after_commit, vera, offline_agents, mailoutbox
):
    writes(after_commit, vera)
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)
    writes(after_commit, vera, "Hello??")
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    assert len(mailoutbox) == 2
    assert Episode.objects.count() == 1


def test_a_later_visit_with_the_question_still_unanswered_is_a_new_episode(
    clock, after_commit, vera, offline_agents, mailoutbox
):
    writes(after_commit, vera)
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)
    leaves(after_commit, clock, vera)

    clock.shift(timedelta(days=1))
    presence().connect(vera.pk, "tab-2")
    writes(after_commit, vera, "Still waiting for an answer")
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    assert len(mailoutbox) == 4
    assert Episode.objects.filter(state=Episode.State.SENT).count() == 2


def test_an_email_from_a_visitor_while_everyone_is_offline_is_an_offline_message(
    clock, after_commit, offline_agents, mailoutbox
):
    visitor = VisitorFactory(email="eve@example.com")
    writes(after_commit, visitor, "Sent by email", channel="email")
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    assert len(mailoutbox) == 2


# --- Missed conversations --------------------------------------------------------------------------


def test_visitor_who_leaves_before_a_reply_is_a_missed_conversation_for_the_online_agents(
    clock, after_commit, vera, agent, colleague, offline_agents, mailoutbox
):
    message = writes(after_commit, vera)
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)
    assert mailoutbox == []  # not an offline message: someone was online

    leaves(after_commit, clock, vera)

    assert recipients(mailoutbox) == sorted([agent.email, colleague.email])
    assert mailoutbox[0].subject == "Missed conversation with Vera Visitor"
    assert "left the website before anyone replied" in mailoutbox[0].body
    assert f"/conversations/{message.conversation_id}/" in mailoutbox[0].body


def test_moving_between_pages_within_the_grace_period_triggers_nothing(clock, after_commit, vera, agent, mailoutbox):
    writes(after_commit, vera)

    for page in range(5):  # each page closes the chat box and the next one opens it again
        presence().disconnect(vera.pk, f"tab-{page + 1}" if page else "tab-1")
        clock.shift(timedelta(seconds=GRACE - 5))
        presence().connect(vera.pk, f"tab-{page + 2}")
        with after_commit():
            settle_departures()
        sweep(after_commit)

    for _minute in range(10):  # then she reads the last page for ten minutes, her chat box beating
        clock.shift(timedelta(seconds=30))
        visitor_services.visitor_heartbeat(visitor_id=vera.pk, connection="tab-6")
        with after_commit():
            settle_departures()
        sweep(after_commit)

    assert mailoutbox == []
    assert not Episode.objects.exists()  # nothing is decided while she is on the website


def test_a_reply_before_the_visitor_leaves_sends_nothing(clock, after_commit, vera, agent, mailoutbox):
    message = writes(after_commit, vera)
    replies(after_commit, message.conversation, agent)

    leaves(after_commit, clock, vera)

    assert mailoutbox == []


def test_a_visitor_writing_again_after_a_reply_whose_event_is_late_starts_a_new_episode(
    clock, after_commit, vera, agent, mailoutbox
):
    """Events of two processes can cross: the visitor's next message is heard before the agent's reply
    is. The question after the reply is a new episode, missed when the visitor leaves."""
    first = writes(after_commit, vera, "Is this in stock?")
    conversation_services.message_create(  # its event is never heard
        conversation=first.conversation, author=Message.Author.AGENT, agent=agent, body="Yes"
    )
    second = writes(after_commit, vera, "Can you deliver tomorrow?")

    leaves(after_commit, clock, vera)
    [mail] = mailoutbox
    assert "Can you deliver tomorrow?" in mail.body and "Is this in stock?" not in mail.body
    assert Episode.objects.get().start_message_id == second.pk


def test_an_offline_message_answered_by_a_reply_whose_event_is_late_is_over(
    clock, after_commit, vera, offline_agents, mailoutbox
):
    """The visitor's next message, heard before the reply, ends the answered offline message and
    starts a new one."""
    first = writes(after_commit, vera, "Is this in stock?")
    conversation_services.message_create(  # its event is never heard
        conversation=first.conversation, author=Message.Author.AGENT, agent=offline_agents[0], body="Yes"
    )
    second = writes(after_commit, vera, "Can you deliver tomorrow?")

    assert list(Episode.objects.order_by("id").values_list("start_message_id", "reason", "ended_at")) == [
        (first.pk, "answered", timezone.now()),
        (second.pk, "", None),
    ]
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)
    assert recipients(mailoutbox) == sorted(agent.email for agent in offline_agents)
    body = mailoutbox[0].body
    assert "Can you deliver tomorrow?" in body and "Is this in stock?" not in body


def test_the_agents_online_when_she_wrote_miss_it_not_those_online_when_she_left(
    clock, after_commit, vera, agent, mailoutbox
):
    writes(after_commit, vera, "Do you ship to Austria?")
    clock.shift(timedelta(minutes=2))
    account_services.agent_set_status(agent=agent, status=Agent.Status.OFFLINE)
    latecomer = account_services.agent_set_status(agent=AgentFactory(), status=Agent.Status.ONLINE)

    leaves(after_commit, clock, vera)

    assert recipients(mailoutbox) == [agent.email]
    assert latecomer.is_online


def test_a_later_visit_with_the_question_still_unanswered_is_missed_again(clock, after_commit, vera, agent, mailoutbox):
    writes(after_commit, vera, "Do you ship to Austria?")
    leaves(after_commit, clock, vera)
    assert len(mailoutbox) == 1

    clock.shift(timedelta(days=1))
    presence().connect(vera.pk, "tab-1")
    account_services.agent_heartbeat(agent=agent)
    again = writes(after_commit, vera, "Hello? Austria?")
    leaves(after_commit, clock, vera)

    assert len(mailoutbox) == 2
    assert Episode.objects.order_by("id").last().start_message_id == again.pk
    sweep(after_commit)
    assert len(mailoutbox) == 2


def test_the_assignee_alone_misses_an_assigned_conversation(clock, after_commit, vera, agent, colleague, mailoutbox):
    conversation = ConversationFactory(visitor=vera, assignee=agent)

    writes(after_commit, vera, conversation=conversation)
    leaves(after_commit, clock, vera)

    assert recipients(mailoutbox) == [agent.email]


def test_only_the_online_agents_of_the_conversations_group_miss_it(clock, after_commit, vera, mailoutbox):
    support = AgentGroupFactory(name="Support")
    helper = AgentFactory(groups=[support], online=True)
    AgentFactory(groups=[support])  # offline: did not miss it
    AgentFactory(online=True)  # online, but another team's

    writes(after_commit, vera, group_id=support.pk)
    leaves(after_commit, clock, vera)

    assert recipients(mailoutbox) == [helper.email]


def test_resolving_the_conversation_before_the_check_sends_nothing(
    clock, after_commit, vera, offline_agents, owner, mailoutbox
):
    message = writes(after_commit, vera)
    with after_commit():
        conversation_services.conversation_resolve(conversation=message.conversation, actor=owner)

    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    assert mailoutbox == []
    assert Episode.objects.get().reason == "resolved"
    assert Episode.objects.get().state == Episode.State.CANCELLED


def test_an_agent_who_switched_missed_conversations_off_gets_none(
    clock, after_commit, vera, agent, colleague, mailoutbox
):
    services.notification_settings_update(agent=agent, actor=agent, offline_messages=True, missed_conversations=False)

    writes(after_commit, vera)
    leaves(after_commit, clock, vera)

    assert recipients(mailoutbox) == [colleague.email]


def test_a_visitor_back_at_the_moment_of_the_check_is_not_missed_yet(clock, after_commit, vera, agent, mailoutbox):
    writes(after_commit, vera)
    presence().disconnect(vera.pk, "tab-1")
    presence().connect(vera.pk, "tab-2")  # back before the check ran

    with after_commit():
        services.notification_visitor_left(visitor_id=vera.pk)
    assert mailoutbox == []
    assert Episode.objects.get().due_at is None  # waiting again

    presence().disconnect(vera.pk, "tab-2")
    leaves_again = timedelta(seconds=GRACE + 1)
    clock.shift(leaves_again)
    with after_commit():
        settle_departures()
    assert len(mailoutbox) == 1


def test_the_same_episode_is_never_notified_twice_nor_as_both_kinds(clock, after_commit, vera, agent, mailoutbox):
    writes(after_commit, vera)
    leaves(after_commit, clock, vera)
    episode = Episode.objects.get()

    with after_commit():
        send_notification(episode.pk)
        send_notification.delay(episode.pk)
    sweep(after_commit)

    assert len(mailoutbox) == 1
    assert Episode.objects.count() == 1
    assert Episode.objects.get().state == Episode.State.SENT


def test_an_offline_message_is_not_also_missed(clock, after_commit, vera, offline_agents, mailoutbox):
    late = offline_agents[0]
    writes(after_commit, vera)
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)
    late.status, late.last_seen_at = Agent.Status.ONLINE, datetime.now(UTC)
    late.save()

    writes(after_commit, vera, "Are you there now?")
    leaves(after_commit, clock, vera)

    assert len(mailoutbox) == 2
    assert all(mail.subject.startswith("New message") for mail in mailoutbox)


def test_a_departure_this_app_never_heard_of_is_settled_by_the_sweep(clock, after_commit, vera, agent, mailoutbox):
    writes(after_commit, vera)
    presence().disconnect(vera.pk, "tab-1")
    clock.shift(timedelta(seconds=GRACE + 1))
    presence().forget(vera.pk)  # the departure was settled, but its event was lost with its process

    sweep(after_commit)

    assert recipients(mailoutbox) == [agent.email]


def test_an_offline_message_whose_check_was_lost_is_emailed_when_the_visitor_leaves(
    clock, after_commit, vera, offline_agents, mailoutbox
):
    # Stored, but what follows its commit never ran: the process died right after it.
    message = conversation_services.visitor_message_create(visitor=vera, body="Hello, is anyone there?")
    assert not Episode.objects.exists()
    clock.shift(timedelta(minutes=5))
    sweep(after_commit)
    assert mailoutbox == []

    leaves(after_commit, clock, vera)

    assert recipients(mailoutbox) == sorted(agent.email for agent in offline_agents)
    assert all(mail.subject == "New message from Vera Visitor" for mail in mailoutbox)
    assert "Hello, is anyone there?" in mailoutbox[0].body
    episode = Episode.objects.get()
    assert (episode.kind, episode.start_message_id) == (Episode.Kind.OFFLINE_MESSAGE, message.pk)
    assert episode.ended_at is not None  # her next visit's messages are a new episode
    # Covered now: the sweep does not take her departure up again.
    sweep(after_commit)
    with after_commit():
        settle_departures()
    assert len(mailoutbox) == len(offline_agents)


def test_a_lost_check_older_than_the_record_of_who_was_online_is_not_guessed(
    clock, after_commit, vera, offline_agents, mailoutbox, settings
):
    settings.AGENT_ONLINE_SPANS_KEEP_DAYS = 30
    conversation_services.visitor_message_create(visitor=vera, body="Hello, is anyone there?")  # check lost
    clock.shift(timedelta(days=31))

    leaves(after_commit, clock, vera)

    assert mailoutbox == []
    assert not Episode.objects.exists()


def test_both_events_are_published_for_webhooks(clock, after_commit, vera, agent, published, offline_agents):
    message = writes(after_commit, vera)
    leaves(after_commit, clock, vera)

    other = VisitorFactory()
    agent.status = Agent.Status.OFFLINE
    agent.save()
    Agent.objects.update(status=Agent.Status.OFFLINE)
    writes(after_commit, other)
    clock.shift(timedelta(seconds=DELAY + 1))
    sweep(after_commit)

    events = [event for event in published if event["type"] in ("conversation.missed", "conversation.offline_message")]
    assert [event["type"] for event in events] == ["conversation.missed", "conversation.offline_message"]
    assert events[0]["conversation"]["id"] == message.conversation_id
    assert events[0]["notification"]["agent_ids"] == [agent.pk]
    assert events[1]["conversation"]["visitor_id"] == other.pk


# --- Sending errors ----------------------------------------------------------------------------------


def test_a_mail_server_error_is_retried_and_each_agent_gets_one_email(clock, after_commit, vera, smtp_server):
    first, second = AgentFactory(), AgentFactory()
    writes(after_commit, vera)
    clock.shift(timedelta(seconds=DELAY + 1))
    episode = Episode.objects.get()
    answers = ["250 OK", "451 4.3.0 Try again later"]
    original = smtp_server.handle_DATA

    async def flaky(server, session, envelope):
        smtp_server.answer = answers.pop(0) if answers else "250 OK"
        return await original(server, session, envelope)

    smtp_server.handle_DATA = flaky
    with pytest.raises(Exception, match="Try again later"):
        services.notification_send(episode_id=episode.pk)
    assert len(smtp_server.mails) == 1

    clock.shift(timedelta(seconds=services.retry_delay(1) + 1))
    sweep(after_commit)

    assert sorted(mail["To"] for mail in smtp_server.mails) == sorted([first.email, second.email])
    assert Episode.objects.get().state == Episode.State.SENT


def test_a_mail_server_that_keeps_failing_fails_the_episode_in_the_end(clock, after_commit, vera, smtp_server):
    AgentFactory()
    writes(after_commit, vera)
    smtp_server.answer = "451 4.3.0 Try again later"

    for attempt in range(1, services.MAX_ATTEMPTS):
        clock.shift(timedelta(seconds=services.retry_delay(attempt) + DELAY))
        with pytest.raises(Exception, match="Try again later"):
            services.notification_send(episode_id=Episode.objects.get().pk)
    clock.shift(timedelta(hours=1))
    services.notification_send(episode_id=Episode.objects.get().pk)

    episode = Episode.objects.get()
    assert episode.state == Episode.State.FAILED
    assert episode.attempts == services.MAX_ATTEMPTS
    assert "Try again later" in episode.reason


# --- Settings ----------------------------------------------------------------------------------------


def test_both_notifications_are_on_by_default(agent):
    chosen = notification_settings_of(agent)

    assert (chosen.offline_messages, chosen.missed_conversations) == (True, True)


def test_an_agent_changes_their_own_and_the_owner_anyones(agent, owner):
    services.notification_settings_update(agent=agent, actor=agent, offline_messages=False, missed_conversations=True)
    services.notification_settings_update(agent=agent, actor=owner, offline_messages=False, missed_conversations=False)

    chosen = notification_settings_of(agent)
    assert (chosen.offline_messages, chosen.missed_conversations) == (False, False)


def test_a_colleague_cannot_change_someone_elses(agent, colleague, full_agent):
    for actor in (colleague, full_agent):
        with pytest.raises(ServiceError) as refused:
            services.notification_settings_update(
                agent=agent, actor=actor, offline_messages=False, missed_conversations=False
            )
        assert refused.value.code == "forbidden"
    assert notification_settings_of(agent).offline_messages is True


def test_settings_take_on_or_off_only(agent):
    with pytest.raises(ServiceError) as refused:
        services.notification_settings_update(
            agent=agent, actor=agent, offline_messages="no", missed_conversations=True
        )

    assert refused.value.field == "offline_messages"
