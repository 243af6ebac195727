"""The REST API's download of what visitors attached to their emails: listed with each message of a
conversation (`conversations.api`), opened here by an API key whose agent may see the conversation."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.views import APIView

from helpdesk.api_docs import READ_ERRORS

from . import selectors
from .views import attachment_response


class ConversationAttachmentApi(APIView):
    def perform_content_negotiation(self, request, force=False):
        # The answer is the file, whatever type the client asks for; only errors are JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=["conversations"],
        summary="Download a file a visitor attached to a message",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY,
                "The file, as a download (its name in Content-Disposition).",
                examples=[OpenApiExample("file", value="%PDF-1.4 ...")],
            ),
            **READ_ERRORS,
        },
    )
    def get(self, request, conversation_id: int, attachment_id: int):
        """404 unless the key's agent may see the conversation and the file belongs to it."""
        attachment = selectors.email_attachment_for_agent(
            agent=request.user, attachment_id=attachment_id, conversation_id=conversation_id
        )
        return attachment_response(attachment)
