"""Every REST API route, under /api/v1/, with its OpenAPI schema and the offline Swagger UI and Redoc."""

from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from channels_email import api as email
from conversations import api as conversations
from visitors import api as visitors

from . import api as accounts
from .rest import IdConverter

register_converter(IdConverter, "id")

public = {"permission_classes": [AllowAny], "authentication_classes": []}

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(**public), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema", **public), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema", **public), name="api-redoc"),
    path("conversations/", conversations.ConversationListApi.as_view(), name="api-conversations"),
    path("conversations/<id:conversation_id>/", conversations.ConversationDetailApi.as_view(), name="api-conversation"),
    path("conversations/<id:conversation_id>/messages/", conversations.MessageListApi.as_view(), name="api-messages"),
    path("conversations/<id:conversation_id>/resolve/", conversations.ConversationResolveApi.as_view()),
    path("conversations/<id:conversation_id>/reopen/", conversations.ConversationReopenApi.as_view()),
    path("conversations/<id:conversation_id>/join/", conversations.ConversationJoinApi.as_view()),
    path("conversations/<id:conversation_id>/assign/", conversations.ConversationAssignApi.as_view()),
    path("conversations/<id:conversation_id>/transfer/", conversations.ConversationTransferApi.as_view()),
    path("conversations/<id:conversation_id>/tags/", conversations.ConversationTagsApi.as_view()),
    path("conversations/<id:conversation_id>/tags/<id:tag_id>/", conversations.ConversationUntagApi.as_view()),
    path(
        "conversations/<id:conversation_id>/attachments/<id:attachment_id>/",
        email.ConversationAttachmentApi.as_view(),
        name="api-conversation-attachment",
    ),
    path("visitors/", visitors.VisitorListApi.as_view(), name="api-visitors"),
    path("visitors/<id:visitor_id>/", visitors.VisitorDetailApi.as_view(), name="api-visitor"),
    path("visitors/<id:visitor_id>/customer-data/", visitors.VisitorCustomerDataApi.as_view()),
    path("visitors/<id:visitor_id>/notes/", visitors.VisitorNoteListApi.as_view()),
    path("visitors/<id:visitor_id>/notes/<id:note_id>/", visitors.VisitorNoteDetailApi.as_view()),
    path("visitors/<id:visitor_id>/page-views/", visitors.VisitorPageViewListApi.as_view()),
    path("visitors/<id:visitor_id>/conversations/", conversations.VisitorConversationListApi.as_view()),
    path("agents/", accounts.AgentListApi.as_view(), name="api-agents"),
    path("agents/<id:agent_id>/", accounts.AgentDetailApi.as_view()),
    path("groups/", accounts.GroupListApi.as_view(), name="api-groups"),
    path("tags/", conversations.TagListApi.as_view(), name="api-tags"),
]
