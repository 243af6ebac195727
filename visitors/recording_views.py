"""Recordings of visits: the chat box's upload of batches, and the agents' player."""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from helpdesk.errors import ServiceError
from helpdesk.permissions import website_may_connect

from . import recordings
from .models import Recording, Visitor


def _error(error: ServiceError) -> JsonResponse:
    return JsonResponse(error.as_dict(), status=error.http_status)


@csrf_exempt  # no cookies are involved: the visitor's key in a header is the credential
@require_POST
def recording_chunk(request):
    """POST /widget/recording/?session=<uuid>&sequence=<n> with X-Visitor-Token and a gzip body."""
    if not website_may_connect(request.headers.get("Origin", ""), request.get_host()):
        return JsonResponse({"code": "forbidden", "message": "This website may not send recordings."}, status=403)
    visitor = Visitor.objects.filter(key=_uuid_or_none(request.headers.get("X-Visitor-Token"))).first()
    if visitor is None:
        return JsonResponse({"code": "forbidden", "message": "Unknown visitor.", "field": "token"}, status=403)
    try:
        sequence = int(request.GET.get("sequence", ""))
    except ValueError:
        return JsonResponse(
            {"code": "invalid", "message": "The sequence is a whole number.", "field": "sequence"}, status=400
        )
    try:
        recordings.recording_chunk_store(
            visitor=visitor, session=request.GET.get("session", ""), sequence=sequence, data=request.body
        )
    except ServiceError as error:
        return _error(error)
    return HttpResponse(status=204)


def _uuid_or_none(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@login_required
@require_GET
def recording_player(request, visitor_id: int, recording_id: int):
    recording = get_object_or_404(Recording, pk=recording_id, visitor_id=visitor_id, status=Recording.Status.READY)
    return render(
        request, "visitors/recording_player.html", {"recording": recording, "pages": json.dumps(recording.pages)}
    )


@login_required
@require_GET
def recording_data(request, recording_id: int):
    """The events of a finished recording, gzip-compressed as stored (the browser decompresses them)."""
    recording = get_object_or_404(Recording, pk=recording_id, status=Recording.Status.READY)
    if not recording.file:
        raise Http404
    # Read whole (bounded by the recording size limit): under ASGI a file response is buffered anyway.
    with recording.file.open("rb") as stored:
        response = HttpResponse(stored.read(), content_type="application/json")
    response["Content-Encoding"] = "gzip"
    response["Cache-Control"] = "private, max-age=3600"
    return response
