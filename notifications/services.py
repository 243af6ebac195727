"""Agents' email notifications. A visitor who writes while nobody who could answer is online leaves
an offline message; one who writes while someone is online and leaves the website before any agent
replies, a missed conversation (decided when they leave, by who was online when they wrote). Each
episode is checked again when due and emailed once.
"""

import contextlib
import functools
import logging
import time
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from conversations.events import conversation_payload
from conversations.models import Channel, Conversation, Message
from helpdesk import events as hub
from helpdesk import rows
from helpdesk.errors import ServiceError
from helpdesk.models import Agent
from helpdesk.selectors import agents_online_at_with_membership, agents_online_with_membership_sql
from visitors.presence import presence

from . import permissions, selectors
from .models import Episode, EpisodeRecipient, NotificationSettings

logger = logging.getLogger(__name__)

# Sending is tried this many times (30 s, 1, 2, 4, 8 minutes apart), then the episode has failed.
MAX_ATTEMPTS = 6
# A sender that died holding an episode loses it after this long, and the sweep sends it.
SEND_LEASE = timedelta(minutes=10)


def retry_delay(attempts: int) -> int:
    """Seconds before the next try after `attempts` failed ones."""
    return 30 * 2 ** max(attempts - 1, 0)


# --- Settings ------------------------------------------------------------------------------------


@transaction.atomic
def notification_settings_update(
    *, agent: Agent, actor: Agent, offline_messages: bool, missed_conversations: bool
) -> NotificationSettings:
    """An agent switches their own email notifications on or off; the owner may for any agent."""
    if reason := permissions.why_cannot_change_settings(actor, agent):
        raise ServiceError(reason, code="forbidden")
    values = {"offline_messages": offline_messages, "missed_conversations": missed_conversations}
    for field, value in values.items():
        if not isinstance(value, bool):
            raise ServiceError(_("Choose on or off."), field=field)
    found, _created = NotificationSettings.objects.select_for_update().get_or_create(agent=agent, defaults=values)
    if any(getattr(found, field) != value for field, value in values.items()):
        for field, value in values.items():
            setattr(found, field, value)
        found.save(update_fields=list(values))
    return found


def _wants(agent: Agent, kind: str) -> bool:
    chosen = selectors.notification_settings_of(agent)
    return chosen.offline_messages if kind == Episode.Kind.OFFLINE_MESSAGE else chosen.missed_conversations


# --- Episodes ------------------------------------------------------------------------------------


# The statements below run on every message of a live chat, and are written in SQL (see
# `helpdesk.rows`): the ORM took several times longer to build each than the database took to run it.
# Table and column names come from the models.
@functools.cache
def _sql_names(vendor: str) -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "episode": quote(Episode._meta.db_table),
        "message": quote(Message._meta.db_table),
    }


def _end_episodes(conversation_id: int, *, reason: str, before_message_id: int | None = None) -> None:
    """The episodes (started before the message, if given) are over; those not yet checked are
    cancelled. One statement, so it needs no transaction of its own."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    scheduled, cancelled = Episode.State.SCHEDULED, Episode.State.CANCELLED
    before = "AND start_message_id < %s" if before_message_id is not None else ""
    with rows.preparing_cursor() as cursor:
        # Every SET reads the row as it was, so each CASE sees the state before this update.
        cursor.execute(
            f"""UPDATE {_sql_names(connection.vendor)["episode"]} SET
                state = CASE WHEN state = %s THEN %s ELSE state END,
                reason = CASE WHEN state = %s THEN %s ELSE reason END,
                settled_at = CASE WHEN state = %s THEN %s ELSE settled_at END,
                ended_at = COALESCE(ended_at, %s)
            WHERE conversation_id = %s AND (state = %s OR ended_at IS NULL) {before}""",
            [scheduled, cancelled, scheduled, reason, scheduled, now, now, conversation_id, scheduled]
            + ([before_message_id] if before_message_id is not None else []),
        )


class OpenEpisode(NamedTuple):
    id: int
    answered: bool  # an agent replied after it started, before the message in hand


def _open_episode_and_agents_online(
    conversation: Conversation, message_id: int
) -> tuple[OpenEpisode | None, list[tuple[int, bool]]]:
    """The conversation's open episode, if any, as a visitor's message `message_id` finds it, and
    `agents_online_with_membership` of its group, in one round trip."""
    online_sql, online_params = agents_online_with_membership_sql(conversation.group_id)
    with rows.preparing_cursor() as cursor:
        cursor.execute(
            f"""SELECT 0, episode.id, EXISTS (
                    SELECT 1 FROM {_sql_names(connection.vendor)["message"]} reply
                    WHERE reply.conversation_id = episode.conversation_id AND reply.author = %s
                    AND reply.id > episode.start_message_id AND reply.id < %s
                )
            FROM {_sql_names(connection.vendor)["episode"]} episode
            WHERE episode.conversation_id = %s AND episode.ended_at IS NULL
            UNION ALL SELECT 1, online.* FROM ({online_sql}) online""",
            [Message.Author.AGENT, message_id, conversation.pk, *online_params],
        )
        found = cursor.fetchall()
    episode = next((OpenEpisode(key, bool(answered)) for which, key, answered in found if which == 0), None)
    return episode, sorted((key, bool(member)) for which, key, member in found if which == 1)


def _offline_message_episode(
    conversation: Conversation, message_id: int, *, due_at, ended_at=None
) -> tuple[Episode, list[EpisodeRecipient]]:
    """An offline-message episode from the visitor's message `message_id`, unsaved, with a recipient
    for every agent who could answer."""
    episode = Episode(
        conversation_id=conversation.pk,
        start_message_id=message_id,
        kind=Episode.Kind.OFFLINE_MESSAGE,
        due_at=due_at,
        ended_at=ended_at,
    )
    agent_ids = selectors.agents_who_could_answer(conversation).values_list("pk", flat=True)
    return episode, [EpisodeRecipient(agent_id=agent_id) for agent_id in agent_ids]


def _enqueue_check(episode: Episode, *, countdown: int = 0) -> None:
    from .tasks import send_notification

    send_notification.apply_async_on_commit((episode.pk,), countdown=countdown)


def notification_visitor_wrote(*, conversation: Conversation, message_id: int) -> int | None:
    """The visitor's first message after the last agent reply (or in a new or reopened conversation),
    written while nobody who could answer is online, starts an offline-message episode; later messages
    join it. With someone online nothing is stored: whether it was missed is decided when the visitor
    leaves (`notification_visitor_left`), by who was online when they wrote.

    `conversation` is as the message left it (from the event). Every visitor message of a live chat
    pays for this, so it reads little: a reply or resolution that overtakes it is caught when the
    episode is checked before sending (`_recheck`)."""
    if not conversation.is_open:
        return None
    open_episode, agents_online = _open_episode_and_agents_online(conversation, message_id)
    if open_episode is not None and not open_episode.answered:
        return open_episode.id
    if selectors.agent_ids_online_for(conversation, agents_online):
        return None  # someone online sees it; an answered episode is ended by its reply's own event
    due_at = timezone.now() + timedelta(seconds=settings.NOTIFICATION_OFFLINE_DELAY)
    episode, recipients = _offline_message_episode(conversation, message_id, due_at=due_at)
    try:
        # One statement (`rows.insert_with`) unless an answered episode must end first.
        with transaction.atomic() if open_episode is not None else contextlib.nullcontext():
            if open_episode is not None:
                # An agent replied in between and that reply's own event has not arrived yet.
                _end_episodes(conversation.pk, reason="answered", before_message_id=message_id)
            rows.insert_with(episode, "episode", recipients)
            _enqueue_check(episode, countdown=settings.NOTIFICATION_OFFLINE_DELAY)
    except IntegrityError:
        # Another process started it at the same moment.
        return selectors.open_episode(conversation.pk).values_list("pk", flat=True).first()
    return episode.pk


def notification_agent_replied(*, conversation_id: int, message_id: int) -> None:
    """An agent's reply ends the episodes it answers; those not yet emailed never will be."""
    _end_episodes(conversation_id, reason="answered", before_message_id=message_id)


def notification_conversation_resolved(*, conversation_id: int) -> None:
    """A resolved conversation needs no notification; the visitor's next message starts a new episode."""
    _end_episodes(conversation_id, reason="resolved")


@transaction.atomic
def notification_visitor_left(*, visitor_id: int) -> list[int]:
    """The visitor left the website: their visit's offline messages are over (a message on a later
    visit is a new episode), and each open conversation they wrote in after the last agent reply, while
    someone was online, was missed (an offline message whose own check was lost is sent now too).
    Returns the episodes to check now."""
    now = timezone.now()
    Episode.objects.filter(
        conversation__visitor_id=visitor_id,
        conversation__channel=Channel.WEB,
        kind=Episode.Kind.OFFLINE_MESSAGE,
        ended_at__isnull=True,
    ).update(ended_at=now)
    missed = [
        episode
        for conversation in selectors.conversations_possibly_missed(visitor_id=visitor_id)
        if (episode := _unnotified_episode_start(conversation, now)) is not None
    ]
    # Missed conversations whose visitor came back before their email went out waited for this.
    waiting = list(selectors.missed_episodes_waiting(visitor_id=visitor_id))
    Episode.objects.filter(pk__in=[episode.pk for episode in waiting]).update(due_at=now)
    for episode in missed + waiting:
        _enqueue_check(episode)
    return sorted(episode.pk for episode in missed + waiting)


def _unnotified_episode_start(conversation: Conversation, now) -> Episode | None:
    """The missed-conversation episode of the visitor's first unanswered message, due now, for the
    agents online when it was written (`agent_ids_online_for`); None when there is none.

    When nobody was online then, the message should have started an offline-message episode, which
    would cover it. That it did not most likely means its check was lost (the process died after the
    commit, or the check failed): the offline message is emailed now, for the agents who could answer,
    rather than never. Not for a message older than the record of who was online
    (`AGENT_ONLINE_SPANS_KEEP_DAYS`): who was online then is no longer known."""
    first = selectors.first_unnotified_message(conversation)
    if first is None:
        return None
    online = agents_online_at_with_membership(first.created_at, conversation.group_id)
    if agent_ids := selectors.agent_ids_online_for(conversation, online):
        episode = Episode(conversation=conversation, start_message=first, kind=Episode.Kind.MISSED, due_at=now)
        recipients = [EpisodeRecipient(agent_id=agent_id) for agent_id in agent_ids]
    elif first.created_at < now - timedelta(days=settings.AGENT_ONLINE_SPANS_KEEP_DAYS):
        return None
    else:  # the visit it belongs to is over
        episode, recipients = _offline_message_episode(conversation, first.pk, due_at=now, ended_at=now)
    try:
        rows.insert_with(episode, "episode", recipients)
    except IntegrityError:
        return None  # another process heard of the same departure
    return episode


# --- Sending -------------------------------------------------------------------------------------


def _claim(episode_id: int) -> Episode | None:
    """Take the episode for sending, if it is due and no living sender holds it (one caller wins)."""
    now = timezone.now()
    if not selectors.episodes_due(now=now).filter(pk=episode_id).update(claimed_until=now + SEND_LEASE):
        return None
    return Episode.objects.select_related("conversation__visitor").get(pk=episode_id)


@transaction.atomic
def _recheck(episode: Episode) -> bool:
    """At the moment of sending: an agent reply or resolution cancels; a visitor back on the website
    puts a missed conversation back to waiting for them to leave. Returns whether to send."""
    now = timezone.now()
    conversation = Conversation.objects.get(pk=episode.conversation_id)
    answered = selectors.agent_replied_since(episode)
    if answered or not conversation.is_open:
        reason = "answered" if answered else "resolved"
        Episode.objects.filter(pk=episode.pk, state=Episode.State.SCHEDULED).update(
            state=Episode.State.CANCELLED,
            reason=reason,
            settled_at=now,
            claimed_until=None,
            ended_at=Coalesce(F("ended_at"), now),
        )
        return False
    if episode.kind == Episode.Kind.MISSED and presence().connection_count(conversation.visitor_id):
        Episode.objects.filter(pk=episode.pk).update(due_at=None, claimed_until=None)
        return False
    return True


def _site_link(conversation: Conversation) -> str:
    return f"{settings.SITE_URL}/conversations/{conversation.pk}/"


def _one_line(text: str) -> str:
    return " ".join(str(text or "").split())


def notification_email_build(*, episode: Episode, agent: Agent) -> EmailMultiAlternatives:
    """The email about an episode, in the agent's language: who the visitor is, their messages (as
    stored, so masked) and the link to the conversation in the dashboard."""
    conversation = episode.conversation
    visitor = conversation.visitor
    with translation.override(agent.language or settings.LANGUAGE_CODE):
        context = {
            "kind": episode.kind,
            "offline": episode.kind == Episode.Kind.OFFLINE_MESSAGE,
            "agent_name": agent.name,
            "visitor_name": str(visitor),
            "visitor_email": visitor.email,
            "location": ", ".join(part for part in (visitor.city, visitor.country) if part),
            "page": selectors.visitor_page(conversation),
            "messages": selectors.episode_messages(episode),
            "link": _site_link(conversation),
        }
        if episode.kind == Episode.Kind.OFFLINE_MESSAGE:
            subject = _("New message from %(visitor)s") % {"visitor": str(visitor)}
        else:
            subject = _("Missed conversation with %(visitor)s") % {"visitor": str(visitor)}
        text = render_to_string("notifications/email.txt", context)
        html = render_to_string("notifications/email.html", context)
    mail = EmailMultiAlternatives(
        subject=_one_line(subject),
        body=text,
        to=[agent.email],
        headers={"Auto-Submitted": "auto-generated"},  # a vacation reply must not answer it
    )
    mail.attach_alternative(html, "text/html")
    return mail


def _settle(episode: Episode, state: str, *, reason: str = "") -> None:
    """Sent (or failed for good): recorded once, and published once as a conversation event."""
    now = timezone.now()
    with transaction.atomic():
        ended = Coalesce(F("ended_at"), now) if episode.kind == Episode.Kind.MISSED else F("ended_at")
        settled = Episode.objects.filter(pk=episode.pk, state=Episode.State.SCHEDULED).update(
            state=state, reason=reason[:255], settled_at=now, claimed_until=None, ended_at=ended
        )
        if settled:
            conversation = Conversation.objects.select_related("assignee").get(pk=episode.conversation_id)
            hub.publish(
                {
                    "type": f"conversation.{episode.kind}",
                    "conversation": conversation_payload(conversation),
                    "notification": {
                        "id": episode.pk,
                        "kind": episode.kind,
                        "first_message_id": episode.start_message_id,
                        "agent_ids": list(
                            episode.deliveries.filter(emailed_at__isnull=False).values_list("agent_id", flat=True)
                        ),
                    },
                }
            )


def notification_send(*, episode_id: int) -> bool:
    """Check a due episode again and email every agent it concerns who wants this kind (each once,
    even across retries); safe to run twice or concurrently. A sending error is recorded and raised
    for the caller to retry, until the episode has failed MAX_ATTEMPTS times. Returns whether it settled."""
    episode = _claim(episode_id)
    if episode is None or not _recheck(episode):
        return False
    pending = [
        delivery
        for delivery in episode.deliveries.filter(emailed_at__isnull=True).select_related("agent")
        if delivery.agent.is_active and delivery.agent.can_chat and _wants(delivery.agent, episode.kind)
    ]
    try:
        if pending:
            # Not inside a transaction: a slow mail server must not hold rows locked.
            with get_connection() as connection:
                for delivery in pending:
                    mail = notification_email_build(episode=episode, agent=delivery.agent)
                    mail.connection = connection
                    mail.send(fail_silently=False)
                    EpisodeRecipient.objects.filter(pk=delivery.pk).update(emailed_at=timezone.now())
    except Exception as error:
        attempts = episode.attempts + 1
        logger.warning("Notification %s could not be sent (try %s): %s", episode_id, attempts, error)
        if attempts >= MAX_ATTEMPTS:
            Episode.objects.filter(pk=episode.pk).update(attempts=attempts)
            _settle(episode, Episode.State.FAILED, reason=str(error) or error.__class__.__name__)
            return True
        Episode.objects.filter(pk=episode.pk).update(
            attempts=attempts,
            claimed_until=None,
            due_at=timezone.now() + timedelta(seconds=retry_delay(attempts)),
            reason=(str(error) or error.__class__.__name__)[:255],
        )
        raise
    _settle(episode, Episode.State.SENT)
    return True


def notification_settle_lost() -> list[int]:
    """The sweep: episodes whose delayed check was lost (a worker restarted, an in-memory broker
    forgot it), and visitors whose departure was settled without this app hearing of it. Returns
    the due episodes to check."""
    now = timezone.now()
    waiting = set(
        selectors.missed_episodes_waiting(older_than_grace=True).values_list("conversation__visitor_id", flat=True)
    )
    possibly_gone = waiting | selectors.visitors_possibly_missed(now=now)
    if possibly_gone:
        store = presence()
        still_in_grace = set(store.departed(before=time.time()))
        for visitor_id in possibly_gone:
            if visitor_id not in still_in_grace and not store.connection_count(visitor_id):
                notification_visitor_left(visitor_id=visitor_id)
    return list(selectors.episodes_due().values_list("pk", flat=True))
