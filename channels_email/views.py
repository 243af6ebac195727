"""Agents open what visitors attached to their emails, from the conversation's thread."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from helpdesk.errors import ServiceError

from . import selectors
from .models import EmailAttachment


@login_required
@require_GET
def attachment_download(request, pk: int):
    """The file, for an agent who may see its conversation (404 for anyone else)."""
    try:
        attachment = selectors.email_attachment_for_agent(agent=request.user, attachment_id=pk)
    except ServiceError:
        raise Http404 from None
    return attachment_response(attachment)


def attachment_response(attachment: EmailAttachment) -> FileResponse:
    """Always a download, never shown inline: the visitor chose its type and content, and it must not
    run on our origin. Not found when the file itself is gone from storage (removed by hand, or a restore
    without the media)."""
    try:
        file = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        file,
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["Cache-Control"] = "private, no-store"
    return response
