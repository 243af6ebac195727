"""The visitor card beside a conversation: contact details edited in place, notes, history."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from helpdesk.errors import ServiceError
from helpdesk.permissions import why_cannot_write

from . import selectors, services
from .models import Visitor, VisitorNote
from .presence import visitor_state

PAGE_VIEWS_SHOWN = 20


def card_context(agent, visitor: Visitor) -> dict:
    return {
        "visitor": visitor,
        "visitor_state": visitor_state(visitor.pk),
        "notes": visitor.notes.select_related("author"),
        "page_views": visitor.page_views.all()[:PAGE_VIEWS_SHOWN],
        "edit_refusal": why_cannot_write(agent),
        "recordings": selectors.visitor_recordings(visitor),
        "recording_enabled": selectors.recording_enabled(),
        # The visitor's conversations this agent may see, from `conversations` (the visibility rule).
        **selectors.visitor_card_extras(agent=agent, visitor=visitor),
    }


def _refusal(request, error: ServiceError, target: str = "#flash"):
    response = render(request, "conversations/_refusal.html", {"error": error}, status=error.http_status)
    if request.htmx:
        response = reswap(retarget(response, target), "innerHTML")
    return response


def writes(view):
    """A change to the card: refused for inactive agents, and any refusal shown with its reason."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            if reason := why_cannot_write(request.user):
                raise ServiceError(reason, code="forbidden")
            return view(request, *args, **kwargs)
        except ServiceError as error:
            return _refusal(request, error)

    return login_required(require_POST(wrapper))


@login_required
@require_GET
def visitor_card(request, pk: int):
    visitor = get_object_or_404(Visitor, pk=pk)
    return render(request, "visitors/_card.html", card_context(request.user, visitor))


@writes
def visitor_contact(request, pk: int):
    """One contact field (name, email or phone) changed in place."""
    visitor = get_object_or_404(Visitor, pk=pk)
    field = request.POST.get("field", "")
    if field not in services.CONTACT_FIELDS:
        raise ServiceError(_("Only the name, email and phone can be changed here."), field="field")
    try:
        visitor = services.visitor_update(visitor=visitor, actor=request.user, **{field: request.POST.get("value", "")})
    except ServiceError as error:
        response = render(
            request,
            "visitors/_contact_field.html",
            {"visitor": visitor, "field": field, "value": request.POST.get("value", ""), "error": error},
            status=error.http_status,
        )
        return reswap(response, "outerHTML") if request.htmx else response
    return render(
        request, "visitors/_contact_field.html", {"visitor": visitor, "field": field, "value": getattr(visitor, field)}
    )


@writes
def note_add(request, pk: int):
    visitor = get_object_or_404(Visitor, pk=pk)
    services.visitor_note_add(visitor=visitor, author=request.user, body=request.POST.get("body", ""))
    return render(request, "visitors/_notes.html", card_context(request.user, visitor))


@writes
def note_edit(request, pk: int):
    note = get_object_or_404(VisitorNote, pk=pk)
    services.visitor_note_edit(note=note, actor=request.user, body=request.POST.get("body", ""))
    return render(request, "visitors/_notes.html", card_context(request.user, note.visitor))


@writes
def note_delete(request, pk: int):
    note = get_object_or_404(VisitorNote.objects.select_related("visitor"), pk=pk)
    visitor = note.visitor
    services.visitor_note_delete(note=note, actor=request.user)
    return render(request, "visitors/_notes.html", card_context(request.user, visitor))
