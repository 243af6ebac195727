"""Reads of visitors: search by name, email or phone; their notes and recorded visits."""

from collections.abc import Callable, Mapping

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from helpdesk.errors import ServiceError
from helpdesk.models import Agent

from .models import PageView, Recording, Visitor, VisitorNote

SEARCH_MAX_LENGTH = 200


def visitor_search(*, params: Mapping) -> QuerySet[Visitor]:
    """Visitors whose name, email or phone contains `q` (any letter case); all when there is none.
    Any other parameter is refused, naming it."""
    for name in params:
        if name != "q":
            raise ServiceError(_("Unknown filter %(name)s.") % {"name": name}, field=name)
    query = params.get("q", "")
    if not isinstance(query, str) or len(query) > SEARCH_MAX_LENGTH:
        raise ServiceError(_("At most %(limit)d characters.") % {"limit": SEARCH_MAX_LENGTH}, field="q")
    if "\x00" in query:
        raise ServiceError(_("Null characters are not allowed."), field="q")
    visitors = Visitor.objects.all()
    query = query.strip()
    if query:
        visitors = visitors.filter(Q(name__icontains=query) | Q(email__icontains=query) | Q(phone__icontains=query))
    return visitors.order_by("-id")


def visitor_get(*, visitor_id: int) -> Visitor:
    visitor = Visitor.objects.filter(pk=visitor_id).first()
    if visitor is None:
        raise ServiceError(_("No such visitor."), code="not_found")
    return visitor


def visitor_notes(*, visitor_id: int) -> QuerySet[VisitorNote]:
    return visitor_get(visitor_id=visitor_id).notes.select_related("author").order_by("-created_at", "-id")


def visitor_note_get(*, visitor_id: int, note_id: int) -> VisitorNote:
    note = VisitorNote.objects.filter(visitor_id=visitor_id, pk=note_id).first()
    if note is None:
        raise ServiceError(_("No such note."), code="not_found")
    return note


def visitor_page_views(*, visitor_id: int) -> QuerySet[PageView]:
    return visitor_get(visitor_id=visitor_id).page_views.order_by("-viewed_at", "-id")


RECORDINGS_SHOWN = 20


def visitor_recordings(visitor: Visitor) -> list[Recording]:
    """The visitor's finished recordings an agent can play, newest first, in one query."""
    return list(
        Recording.objects.filter(visitor=visitor, status=Recording.Status.READY).order_by("-started_at", "-id")[
            :RECORDINGS_SHOWN
        ]
    )


def recording_enabled() -> bool:
    """Whether the account records visits (it does until the owner switches it off)."""
    from helpdesk.models import Account

    enabled = Account.objects.filter(pk=1).values_list("recording_enabled", flat=True).first()
    return True if enabled is None else enabled


# --- What apps above this one add to the visitor card ----------------------------------------------

# `conversations` knows the visitor's conversations and who may see each; this app may not import it,
# so it registers a reader, `read(agent, visitor) -> dict`, whose items join the card's context.
_card_readers: list[Callable] = []


def register_card_reader(read: Callable) -> None:
    if read not in _card_readers:
        _card_readers.append(read)


def visitor_card_extras(*, agent: Agent, visitor: Visitor) -> dict:
    """What the registered apps add to this agent's visitor card."""
    extras: dict = {}
    for read in _card_readers:
        extras |= read(agent, visitor)
    return extras
