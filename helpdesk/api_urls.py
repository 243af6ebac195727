"""Every REST API route, under /api/v1/, with its OpenAPI schema and the offline Swagger UI and Redoc."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from conversations import api as conversations
from visitors import api as visitors

from . import api as accounts

public = {"permission_classes": [AllowAny], "authentication_classes": []}

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(**public), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema", **public), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema", **public), name="api-redoc"),
    path("conversations/", conversations.ConversationListApi.as_view(), name="api-conversations"),
    path(
        "conversations/<int:conversation_id>/", conversations.ConversationDetailApi.as_view(), name="api-conversation"
    ),
    path("conversations/<int:conversation_id>/messages/", conversations.MessageListApi.as_view(), name="api-messages"),
    path("conversations/<int:conversation_id>/resolve/", conversations.ConversationResolveApi.as_view()),
    path("conversations/<int:conversation_id>/reopen/", conversations.ConversationReopenApi.as_view()),
    path("conversations/<int:conversation_id>/join/", conversations.ConversationJoinApi.as_view()),
    path("conversations/<int:conversation_id>/assign/", conversations.ConversationAssignApi.as_view()),
    path("conversations/<int:conversation_id>/transfer/", conversations.ConversationTransferApi.as_view()),
    path("conversations/<int:conversation_id>/tags/", conversations.ConversationTagsApi.as_view()),
    path("conversations/<int:conversation_id>/tags/<int:tag_id>/", conversations.ConversationUntagApi.as_view()),
    path("visitors/", visitors.VisitorListApi.as_view(), name="api-visitors"),
    path("visitors/<int:visitor_id>/", visitors.VisitorDetailApi.as_view(), name="api-visitor"),
    path("visitors/<int:visitor_id>/customer-data/", visitors.VisitorCustomerDataApi.as_view()),
    path("visitors/<int:visitor_id>/notes/", visitors.VisitorNoteListApi.as_view()),
    path("visitors/<int:visitor_id>/notes/<int:note_id>/", visitors.VisitorNoteDetailApi.as_view()),
    path("visitors/<int:visitor_id>/page-views/", visitors.VisitorPageViewListApi.as_view()),
    path("visitors/<int:visitor_id>/conversations/", conversations.VisitorConversationListApi.as_view()),
    path("agents/", accounts.AgentListApi.as_view(), name="api-agents"),
    path("agents/<int:agent_id>/", accounts.AgentDetailApi.as_view()),
    path("groups/", accounts.GroupListApi.as_view(), name="api-groups"),
    path("tags/", conversations.TagListApi.as_view(), name="api-tags"),
]
