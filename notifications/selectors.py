"""Reads for notifications: settings, who could answer a conversation, what is due."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from conversations.models import Channel, Conversation, Message
from helpdesk.models import Agent
from visitors.models import PageView

from .models import Episode, NotificationSettings

# The newest visitor messages quoted in one email; the link leads to the rest.
MESSAGES_IN_EMAIL = 20
# How far back the sweep looks for visitors whose leaving this app may not have heard of.
MISSED_LOOKBACK = timedelta(days=1)


def notification_settings_of(agent: Agent) -> NotificationSettings:
    """The agent's settings; the defaults (not saved) when they never changed them."""
    found = NotificationSettings.objects.filter(agent=agent).first()
    return found or NotificationSettings(agent=agent)


def _chatting() -> QuerySet[Agent]:
    return Agent.objects.filter(is_active=True, can_chat=True)


def _group_has_chatting_agents(group_id: int) -> bool:
    return _chatting().filter(groups=group_id).exists()


def agents_who_could_answer(conversation: Conversation) -> QuerySet[Agent]:
    """The agents of the conversation's group (everyone when it has none, or when its group has no
    agent who may chat), plus its assignee: those who may chat."""
    chatting = _chatting()
    could = chatting
    if conversation.group_id and _group_has_chatting_agents(conversation.group_id):
        could = chatting.filter(groups=conversation.group_id)
    if conversation.assignee_id:
        return chatting.filter(Q(pk__in=could.values("pk")) | Q(pk=conversation.assignee_id))
    return could


def agent_ids_online_for(conversation: Conversation, online: list[tuple[int, bool]]) -> list[int]:
    """Who is online to answer: the assignee when online, else the online agents who could answer
    (`agents_who_could_answer`). `online` is `agents_online_with_membership` of the conversation's group."""
    if conversation.assignee_id in {agent_id for agent_id, _member in online}:
        return [conversation.assignee_id]
    in_group = [agent_id for agent_id, member in online if member]
    if in_group or (conversation.group_id and _group_has_chatting_agents(conversation.group_id)):
        return in_group
    return [agent_id for agent_id, _member in online]


def agent_replied_since(episode: Episode) -> bool:
    return Message.objects.filter(
        conversation_id=episode.conversation_id, author=Message.Author.AGENT, id__gt=episode.start_message_id
    ).exists()


def episode_messages(episode: Episode) -> list[Message]:
    """The visitor's messages the email quotes: everything since the last agent reply before the
    episode began (as stored, so masked), the newest MESSAGES_IN_EMAIL of them."""
    last_reply = (
        Message.objects.filter(
            conversation_id=episode.conversation_id, author=Message.Author.AGENT, id__lt=episode.start_message_id
        )
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    newest = Message.objects.filter(
        conversation_id=episode.conversation_id, author=Message.Author.VISITOR, id__gt=last_reply or 0
    ).order_by("-id")[:MESSAGES_IN_EMAIL]
    return list(reversed(newest))


def visitor_page(conversation: Conversation) -> str:
    """The page the visitor was on: their latest page view, else where the conversation started."""
    latest = PageView.objects.filter(visitor_id=conversation.visitor_id).order_by("-viewed_at", "-id").first()
    return latest.url if latest else conversation.page_url


def episodes_due(*, now=None) -> QuerySet[Episode]:
    """Scheduled episodes whose check is due and that no living sender holds."""
    now = now or timezone.now()
    return Episode.objects.filter(state=Episode.State.SCHEDULED, due_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def missed_episodes_waiting(*, visitor_id: int | None = None, older_than_grace: bool = False) -> QuerySet[Episode]:
    """Possibly missed conversations still waiting for their visitor to leave the website."""
    waiting = Episode.objects.filter(
        state=Episode.State.SCHEDULED,
        kind=Episode.Kind.MISSED,
        due_at__isnull=True,
        ended_at__isnull=True,
        conversation__channel=Channel.WEB,
    )
    if visitor_id is not None:
        waiting = waiting.filter(conversation__visitor_id=visitor_id)
    if older_than_grace:
        waiting = waiting.filter(created_at__lt=timezone.now() - timedelta(seconds=settings.VISITOR_LEFT_GRACE))
    return waiting


def open_episode(conversation_id) -> QuerySet[Episode]:
    """The conversation's episode not yet ended (at most one: `episode_one_open`)."""
    return Episode.objects.filter(conversation_id=conversation_id, ended_at__isnull=True)


def conversations_possibly_missed(*, visitor_id: int) -> QuerySet[Conversation]:
    """The visitor's open website conversations without a notification in progress: each one whose
    visitor wrote after the last agent reply was missed, if someone was online then (if nobody was,
    its offline message's check was lost)."""
    return Conversation.objects.filter(
        visitor_id=visitor_id, channel=Channel.WEB, status=Conversation.Status.OPEN
    ).exclude(Exists(open_episode(OuterRef("pk"))))


def first_unnotified_message(conversation: Conversation) -> Message | None:
    """The visitor's first message after the last agent reply that no notification has covered:
    one started after that reply covers the messages until it ended (the visit's end, its sending,
    the conversation's resolution)."""
    last_reply = (
        Message.objects.filter(conversation=conversation, author=Message.Author.AGENT).aggregate(last=Max("id"))["last"]
        or 0
    )
    covered_until = Episode.objects.filter(conversation=conversation, start_message_id__gt=last_reply).aggregate(
        until=Max("ended_at")
    )["until"]
    unanswered = Message.objects.filter(conversation=conversation, author=Message.Author.VISITOR, id__gt=last_reply)
    if covered_until is not None:
        unanswered = unanswered.filter(created_at__gt=covered_until)
    return unanswered.order_by("id").first()


def visitors_possibly_missed(*, now) -> set[int]:
    """Visitors whose website conversation ends with their message, written more than
    VISITOR_LEFT_GRACE ago (and within MISSED_LOOKBACK), that no notification covers: missed if the
    visitor left without this app hearing of it (a process or Redis restarted)."""
    last_author = Message.objects.filter(conversation=OuterRef("pk")).exclude(author=Message.Author.SYSTEM)
    covered = Episode.objects.filter(conversation=OuterRef("pk")).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=OuterRef("last_message_at"))
    )
    return set(
        Conversation.objects.filter(
            status=Conversation.Status.OPEN,
            channel=Channel.WEB,
            last_message_at__lt=now - timedelta(seconds=settings.VISITOR_LEFT_GRACE),
            last_message_at__gte=now - MISSED_LOOKBACK,
        )
        .annotate(last_author=Subquery(last_author.order_by("-id").values("author")[:1]))
        .filter(last_author=Message.Author.VISITOR)
        .exclude(Exists(covered))
        .values_list("visitor_id", flat=True)
    )
