"""The REST API for conversations, their messages and tags. Thin: every read is a selector, every
write a service, so the API can do exactly what the key's agent could do in the dashboard."""

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.api_docs import READ_ERRORS, WRITE_ERRORS
from helpdesk.models import Agent, AgentGroup
from helpdesk.rest import NewestFirstPagination, OldestFirstPagination, id_field

from . import selectors, services
from .filters import ConversationFilter
from .models import Channel, Conversation, Message

TAGS = ["conversations"]

CONVERSATION_EXAMPLE = {
    "id": 42,
    "visitor": {"id": 7, "name": "Vera Visitor", "email": "vera@example.com"},
    "channel": "web",
    "status": "open",
    "assignee": {"id": 3, "name": "Lili Limited"},
    "group": None,
    "tags": [{"id": 1, "name": "refund"}],
    "rating": None,
    "rating_comment": "",
    "page_url": "https://shop.example.com/checkout",
    "ip_address": "203.0.113.7",
    "created_at": "2026-11-24T09:12:00Z",
    "last_message_at": "2026-11-24T09:15:30Z",
    "resolved_at": None,
}
CONVERSATION_ANSWER = OpenApiExample("conversation", value=CONVERSATION_EXAMPLE, response_only=True)
MESSAGE_EXAMPLE = {
    "id": 501,
    "conversation_id": 42,
    "author": "agent",
    "agent": {"id": 3, "name": "Lili Limited"},
    "body": "Your refund is on its way.",
    "channel": "web",
    "delivery_status": "",
    "created_at": "2026-11-24T09:15:30Z",
    "attachments": [],
}
ATTACHMENT_EXAMPLE = {
    "id": 12,
    "filename": "invoice.pdf",
    "content_type": "application/pdf",
    "size": 48213,
    "url": "https://help.example.com/api/v1/conversations/42/attachments/12/",
}
EMAILED_MESSAGE_EXAMPLE = MESSAGE_EXAMPLE | {
    "id": 502,
    "author": "visitor",
    "agent": None,
    "body": "Here is the invoice.\n\nAttachment: invoice.pdf (47.1 KB)",
    "channel": "email",
    "created_at": "2026-11-24T10:02:11Z",
    "attachments": [ATTACHMENT_EXAMPLE],
}


class _AgentRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _VisitorRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


@extend_schema_serializer(examples=[OpenApiExample("tag", value={"id": 1, "name": "refund"}, response_only=True)])
class TagOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


@extend_schema_serializer(examples=[OpenApiExample("conversation", value=CONVERSATION_EXAMPLE, response_only=True)])
class ConversationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    visitor = _VisitorRef()
    channel = serializers.ChoiceField(choices=Channel.choices)
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    assignee = _AgentRef(allow_null=True)
    group = _AgentRef(allow_null=True, help_text="The agent group it is routed to.")
    tags = TagOutput(many=True)
    rating = serializers.IntegerField(allow_null=True)
    rating_comment = serializers.CharField()
    page_url = serializers.CharField()
    ip_address = serializers.IPAddressField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_message_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, conversation: Conversation) -> dict:
        """What the fields above give, built directly: DRF's generic walk over the fields was most of
        the cost of a search's page (tests/conversations/test_api.py holds the two equal)."""
        visitor, assignee, group = conversation.visitor, conversation.assignee, conversation.group
        moment = self.fields["created_at"].to_representation
        return {
            "id": conversation.id,
            "visitor": {"id": visitor.id, "name": visitor.name, "email": visitor.email},
            "channel": conversation.channel,
            "status": conversation.status,
            "assignee": None if assignee is None else {"id": assignee.id, "name": assignee.name},
            "group": None if group is None else {"id": group.id, "name": group.name},
            "tags": [{"id": tag.id, "name": tag.name} for tag in conversation.tags.all()],
            "rating": conversation.rating,
            "rating_comment": conversation.rating_comment,
            "page_url": conversation.page_url,
            "ip_address": conversation.ip_address,
            "created_at": moment(conversation.created_at),
            "last_message_at": moment(conversation.last_message_at),
            "resolved_at": None if conversation.resolved_at is None else moment(conversation.resolved_at),
        }


class AttachmentOutput(serializers.Serializer):
    """A file the visitor sent with a message and its channel kept (an email's attachment)."""

    id = serializers.IntegerField()
    filename = serializers.CharField()
    content_type = serializers.CharField(help_text="As the sender declared it; the download is always a file.")
    size = serializers.IntegerField(help_text="In bytes.")
    url = serializers.URLField(help_text="GET it with the same API key to download the file.")

    def to_representation(self, file: dict) -> dict:
        # What the channel registered (conversations.events.register_message_files), its link made absolute.
        request = self.context.get("request")
        return {
            "id": file["id"],
            "filename": file["name"],
            "content_type": file["content_type"],
            "size": file["size"],
            "url": request.build_absolute_uri(file["api_url"]) if request else file["api_url"],
        }


@extend_schema_serializer(examples=[OpenApiExample("message", value=MESSAGE_EXAMPLE, response_only=True)])
class MessageOutput(serializers.Serializer):
    # Give it messages with their `files` (`selectors.with_files`).

    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    author = serializers.ChoiceField(choices=Message.Author.choices)
    agent = _AgentRef(allow_null=True)
    body = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    delivery_status = serializers.CharField()
    created_at = serializers.DateTimeField()
    attachments = AttachmentOutput(many=True, source="files")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "conversation with messages",
            value=CONVERSATION_EXAMPLE | {"messages": [MESSAGE_EXAMPLE, EMAILED_MESSAGE_EXAMPLE]},
            response_only=True,
        )
    ]
)
class ConversationDetailOutput(ConversationOutput):
    messages = MessageOutput(many=True, source="messages.all")

    def to_representation(self, conversation: Conversation) -> dict:
        return serializers.Serializer.to_representation(self, conversation)


_PARAMETER_TYPES = {
    "rating": (int, "Rating, exactly (1–5)."),
    "rating_min": (int, "Rating at least (1–5)."),
    "rating_max": (int, "Rating at most (1–5)."),
    "agent": (int, "Assigned agent's id."),
    "group": (int, "Agent group's id."),
    "tag": (int, "A tag id; repeat for several."),
    "tag_match": (str, "`any` (default) or `all` of the given tags."),
    "url": (str, "Website URL contains (any letter case)."),
    "ip": (str, "IP address, or a CIDR range such as 203.0.113.0/24."),
    "status": (str, "open or resolved."),
    "channel": (str, "web, messenger or email."),
    "created_after": (OpenApiTypes.DATETIME, "Created at or after (ISO 8601)."),
    "created_before": (OpenApiTypes.DATETIME, "Created before (ISO 8601)."),
    "resolved_after": (OpenApiTypes.DATETIME, "Resolved at or after (ISO 8601)."),
    "resolved_before": (OpenApiTypes.DATETIME, "Resolved before (ISO 8601)."),
    "visitor": (int, "Visitor's id."),
    "q": (str, "Words in the messages (full-text search)."),
}
_ENUMS = {"tag_match": ["any", "all"], "status": Conversation.Status.values, "channel": Channel.values}
SEARCH_PARAMETERS = [
    OpenApiParameter(
        name,
        _PARAMETER_TYPES[name][0],
        description=_PARAMETER_TYPES[name][1],
        many=repeatable or None,
        enum=_ENUMS.get(name),
        explode=True if repeatable else None,
    )
    for name, repeatable in ConversationFilter.parameters().items()
]
# Query parameters the API reads itself, not filters.
_PAGINATION_PARAMETERS = {"cursor", "page_size"}


def _filters(request):
    params = request.query_params.copy()
    for name in _PAGINATION_PARAMETERS:
        params.pop(name, None)
    return params


# What ConversationOutput shows of the conversation itself. A list reads only these columns, as rows
# rather than models (no visitors' user agents, customer data or agents' password hashes; no model
# instances to build), and the people they name after (`rows_output`).
LIST_COLUMNS = (
    "id",
    "channel",
    "status",
    "rating",
    "rating_comment",
    "page_url",
    "ip_address",
    "created_at",
    "last_message_at",
    "resolved_at",
    "visitor_id",
    "assignee_id",
    "group_id",
)


def _moment_writer():
    """A function writing moments as DateTimeField does (ISO 8601 in the current time zone, UTC as
    `Z`), without looking the time zone up again for each one."""
    zone = timezone.get_current_timezone()

    def moment(value: datetime) -> str:
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return moment


def as_rows(conversations: QuerySet[Conversation]) -> QuerySet:
    """The list's conversations as rows of LIST_COLUMNS (their people and tags come per page: `rows_output`)."""
    return conversations.select_related(None).prefetch_related(None).values(*LIST_COLUMNS)


def rows_output(rows: list[dict]) -> list[dict]:
    """A page of rows (`as_rows`) as ConversationOutput gives conversations, their people read in one
    query and their tags in another. Building models and serializing them field by field was most of
    the Python time of a search (tests/conversations/test_api.py holds the two equal)."""
    visitors, agents, groups = selectors.people_of_conversations(rows)
    tags = selectors.tags_of_conversations([row["id"] for row in rows])
    moment = _moment_writer()
    return [
        {
            "id": row["id"],
            "visitor": visitors[row["visitor_id"]],
            "channel": row["channel"],
            "status": row["status"],
            "assignee": agents.get(row["assignee_id"]),
            "group": groups.get(row["group_id"]),
            "tags": tags[row["id"]],
            "rating": row["rating"],
            "rating_comment": row["rating_comment"],
            "page_url": row["page_url"],
            "ip_address": row["ip_address"],
            "created_at": moment(row["created_at"]),
            "last_message_at": moment(row["last_message_at"]),
            "resolved_at": None if row["resolved_at"] is None else moment(row["resolved_at"]),
        }
        for row in rows
        # A conversation whose visitor was deleted after the page was read went with it.
        if row["visitor_id"] in visitors
    ]


class ConversationRowsListMixin:
    """A list of conversations read as rows and written by `rows_output` (the schema still names
    ConversationOutput, whose shape it is)."""

    def list(self, request, *args, **kwargs):
        rows = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(rows_output(rows))


class ConversationListApi(ConversationRowsListMixin, generics.ListAPIView):
    """Search conversations: every filter given must match. Unknown or malformed filters are a 400."""

    serializer_class = ConversationOutput
    pagination_class = NewestFirstPagination

    @extend_schema(tags=TAGS, parameters=SEARCH_PARAMETERS, responses={200: ConversationOutput, **READ_ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return as_rows(selectors.conversation_search(agent=self.request.user, params=_filters(self.request)))


class ConversationDetailApi(APIView):
    @extend_schema(
        tags=TAGS,
        summary="A conversation with its messages",
        responses={200: ConversationDetailOutput, **READ_ERRORS},
    )
    def get(self, request, conversation_id: int):
        conversation = selectors.conversation_with_messages(agent=request.user, conversation_id=conversation_id)
        return Response(ConversationDetailOutput(conversation, context={"request": request}).data)


def _conversation(request, conversation_id: int) -> Conversation:
    return selectors.conversation_for_agent(agent=request.user, conversation_id=conversation_id)


def _answer(conversation: Conversation) -> Response:
    conversation.refresh_from_db()
    return Response(ConversationOutput(conversation).data)


class ConversationResolveApi(APIView):
    @extend_schema(tags=TAGS, request=None, responses={200: ConversationOutput, **WRITE_ERRORS})
    def post(self, request, conversation_id: int):
        """Resolve: allowed to the assignee, an agent with full access or the owner."""
        conversation = services.conversation_resolve(
            conversation=_conversation(request, conversation_id), actor=request.user
        )
        return _answer(conversation)


class ConversationReopenApi(APIView):
    @extend_schema(tags=TAGS, request=None, responses={200: ConversationOutput, **WRITE_ERRORS})
    def post(self, request, conversation_id: int):
        conversation = services.conversation_reopen(
            conversation=_conversation(request, conversation_id), actor=request.user
        )
        return _answer(conversation)


class ConversationJoinApi(APIView):
    @extend_schema(tags=TAGS, request=None, responses={200: ConversationOutput, **WRITE_ERRORS})
    def post(self, request, conversation_id: int):
        """The key's agent takes the conversation."""
        conversation = services.conversation_join(
            conversation=_conversation(request, conversation_id), actor=request.user
        )
        return _answer(conversation)


class ConversationAssignApi(APIView):
    class AssignInput(serializers.Serializer):
        agent = serializers.PrimaryKeyRelatedField(queryset=Agent.objects.all(), pk_field=id_field())

    @extend_schema(
        tags=TAGS,
        request=AssignInput,
        responses={200: ConversationOutput, **WRITE_ERRORS},
        examples=[OpenApiExample("assign", value={"agent": 3}, request_only=True), CONVERSATION_ANSWER],
    )
    def post(self, request, conversation_id: int):
        """Give the conversation to an agent (full access or owner only)."""
        conversation = _conversation(request, conversation_id)
        data = self.AssignInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_assign(
            conversation=conversation, agent=data.validated_data["agent"], actor=request.user
        )
        return _answer(conversation)


class ConversationTransferApi(APIView):
    class TransferInput(serializers.Serializer):
        agent = serializers.PrimaryKeyRelatedField(
            queryset=Agent.objects.all(), pk_field=id_field(), required=False, allow_null=True
        )
        group = serializers.PrimaryKeyRelatedField(
            queryset=AgentGroup.objects.all(), pk_field=id_field(), required=False, allow_null=True
        )

    @extend_schema(
        tags=TAGS,
        request=TransferInput,
        responses={200: ConversationOutput, **WRITE_ERRORS},
        examples=[
            OpenApiExample("to an agent", value={"agent": 3}, request_only=True),
            OpenApiExample("to a group", value={"group": 2}, request_only=True),
            CONVERSATION_ANSWER,
        ],
    )
    def post(self, request, conversation_id: int):
        """Hand the conversation to another agent, or to a group (exactly one of the two)."""
        conversation = _conversation(request, conversation_id)
        data = self.TransferInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_transfer(
            conversation=conversation,
            actor=request.user,
            agent=data.validated_data.get("agent"),
            group=data.validated_data.get("group"),
        )
        return _answer(conversation)


class ConversationTagsApi(APIView):
    class TagInput(serializers.Serializer):
        name = serializers.CharField(max_length=50, help_text="An existing tag's name; full access may create new.")

    @extend_schema(
        tags=TAGS,
        request=TagInput,
        responses={200: ConversationOutput, **WRITE_ERRORS},
        examples=[OpenApiExample("tag", value={"name": "refund"}, request_only=True), CONVERSATION_ANSWER],
    )
    def post(self, request, conversation_id: int):
        """Tag the conversation."""
        conversation = _conversation(request, conversation_id)
        data = self.TagInput(data=request.data)
        data.is_valid(raise_exception=True)
        tag = services.tag_get_or_create(name=data.validated_data["name"], actor=request.user)
        services.conversation_tag(conversation=conversation, tag=tag, actor=request.user)
        return _answer(conversation)


class ConversationUntagApi(APIView):
    @extend_schema(tags=TAGS, request=None, responses={200: ConversationOutput, **WRITE_ERRORS})
    def delete(self, request, conversation_id: int, tag_id: int):
        """Remove a tag from the conversation."""
        conversation = _conversation(request, conversation_id)
        tag = selectors.tag_get(tag_id=tag_id)
        services.conversation_untag(conversation=conversation, tag=tag, actor=request.user)
        return _answer(conversation)


class MessageListApi(generics.ListAPIView):
    serializer_class = MessageOutput
    pagination_class = OldestFirstPagination

    class MessageInput(serializers.Serializer):
        body = serializers.CharField(max_length=services.MAX_MESSAGE_LENGTH, trim_whitespace=False)

    def get_queryset(self):
        return selectors.conversation_messages(agent=self.request.user, conversation_id=self.kwargs["conversation_id"])

    def list(self, request, *args, **kwargs):
        page = selectors.with_files(self.paginate_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=TAGS, summary="A conversation's messages, oldest first", responses={200: MessageOutput, **READ_ERRORS}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS,
        summary="Send a message as the key's agent",
        request=MessageInput,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Up to 64 characters of your choice: a retried POST with the same key sends once.",
            )
        ],
        responses={201: MessageOutput, **WRITE_ERRORS},
        examples=[
            OpenApiExample("reply", value={"body": "Your refund is on its way."}, request_only=True),
            OpenApiExample("message", value=MESSAGE_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request, conversation_id: int):
        conversation = _conversation(request, conversation_id)
        data = self.MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_create(
            conversation=conversation,
            author=Message.Author.AGENT,
            agent=request.user,
            body=data.validated_data["body"],
            client_id=request.headers.get("Idempotency-Key"),
        )
        selectors.with_files([message])
        return Response(MessageOutput(message, context={"request": request}).data, status=status.HTTP_201_CREATED)


class TagListApi(generics.ListAPIView):
    serializer_class = TagOutput
    pagination_class = None

    def get_queryset(self):
        return selectors.tags_list()

    @extend_schema(tags=["tags"], responses={200: TagOutput(many=True), **READ_ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["tags"],
        summary="The tag with this name, created if new (full access or owner)",
        request=ConversationTagsApi.TagInput,
        responses={200: TagOutput, **WRITE_ERRORS},
        examples=[
            OpenApiExample("tag", value={"name": "refund"}, request_only=True),
            OpenApiExample("tag", value={"id": 1, "name": "refund"}, response_only=True),
        ],
    )
    def post(self, request):
        data = ConversationTagsApi.TagInput(data=request.data)
        data.is_valid(raise_exception=True)
        tag = services.tag_get_or_create(name=data.validated_data["name"], actor=request.user)
        return Response(TagOutput(tag).data)


class VisitorConversationListApi(ConversationRowsListMixin, generics.ListAPIView):
    serializer_class = ConversationOutput
    pagination_class = NewestFirstPagination

    def get_queryset(self):
        return as_rows(selectors.visitor_conversations(agent=self.request.user, visitor_id=self.kwargs["visitor_id"]))

    @extend_schema(
        tags=["visitors"], summary="A visitor's conversations", responses={200: ConversationOutput, **READ_ERRORS}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
