"""The REST API for visitors: search, contact details, notes, page views and customer data. Thin:
reads are selectors, writes are services."""

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.api_docs import READ_ERRORS, WRITE_ERRORS
from helpdesk.rest import NewestIdFirstPagination

from . import selectors, services

TAGS = ["visitors"]

CUSTOMER_DATA_EXAMPLE = {
    "orders": {"label": "Orders", "value": 12},
    "total_spent": {"label": "Total spent", "value": "€1,240.00"},
    "vip": {"label": "VIP customer", "value": True},
}


CUSTOMER_DATA_SCHEMA = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {
            "label": {"type": "string", "maxLength": services.LABELLED_MAX_LABEL},
            "value": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}], "nullable": True},
        },
        "required": ["label", "value"],
    },
    "example": CUSTOMER_DATA_EXAMPLE,
}

VISITOR_ANSWER = OpenApiExample(
    "visitor",
    value={
        "id": 7,
        "external_id": "customer-1001",
        "name": "Vera Visitor",
        "email": "vera@example.com",
        "phone": "+36 1 234 5678",
        "ip_address": "203.0.113.7",
        "country": "HU",
        "city": "Budapest",
        "browser": "Firefox",
        "browser_version": "133",
        "os": "Linux",
        "os_version": "",
        "first_referrer": "https://www.google.com/",
        "customer_data": CUSTOMER_DATA_EXAMPLE,
        "created_at": "2026-11-20T08:00:00Z",
        "last_seen_at": "2026-11-24T09:15:30Z",
    },
    response_only=True,
)

NOTE_ANSWER = OpenApiExample(
    "note",
    value={
        "id": 5,
        "author_id": 3,
        "body": "Prefers email.",
        "created_at": "2026-11-24T09:20:00Z",
        "updated_at": "2026-11-24T09:20:00Z",
    },
    response_only=True,
)


@extend_schema_field(CUSTOMER_DATA_SCHEMA)
class CustomerDataField(serializers.JSONField):
    pass


@extend_schema_serializer(examples=[VISITOR_ANSWER])
class VisitorOutput(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True, help_text="Your website's id for a logged-in customer.")
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    ip_address = serializers.IPAddressField(allow_null=True)
    country = serializers.CharField()
    city = serializers.CharField()
    browser = serializers.CharField()
    browser_version = serializers.CharField()
    os = serializers.CharField()
    os_version = serializers.CharField()
    first_referrer = serializers.CharField()
    customer_data = CustomerDataField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()


@extend_schema_serializer(examples=[NOTE_ANSWER])
class NoteOutput(serializers.Serializer):
    id = serializers.IntegerField()
    author_id = serializers.IntegerField(allow_null=True)
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "page view",
            value={
                "id": 90,
                "url": "https://shop.example.com/cart",
                "title": "Cart",
                "referrer": "https://shop.example.com/",
                "viewed_at": "2026-11-24T09:10:00Z",
            },
            response_only=True,
        )
    ]
)
class PageViewOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    title = serializers.CharField()
    referrer = serializers.CharField()
    viewed_at = serializers.DateTimeField()


class VisitorListApi(generics.ListAPIView):
    serializer_class = VisitorOutput
    pagination_class = NewestIdFirstPagination

    def get_queryset(self):
        params = {key: value for key, value in self.request.query_params.items() if key not in ("cursor", "page_size")}
        return selectors.visitor_search(params=params)

    @extend_schema(
        tags=TAGS,
        summary="Search visitors by name, email or phone",
        parameters=[OpenApiParameter("q", str, description="Part of a name, email address or phone number.")],
        responses={200: VisitorOutput, **READ_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class VisitorDetailApi(APIView):
    class ContactInput(serializers.Serializer):
        name = serializers.CharField(max_length=200, allow_blank=True, required=False)
        email = serializers.CharField(max_length=254, allow_blank=True, required=False)
        phone = serializers.CharField(max_length=50, allow_blank=True, required=False)

    @extend_schema(tags=TAGS, responses={200: VisitorOutput, **READ_ERRORS})
    def get(self, request, visitor_id: int):
        return Response(VisitorOutput(selectors.visitor_get(visitor_id=visitor_id)).data)

    @extend_schema(
        tags=TAGS,
        summary="Change the visitor's name, email or phone",
        request=ContactInput,
        responses={200: VisitorOutput, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "contact", value={"email": "vera@example.com", "phone": "+36 1 234 5678"}, request_only=True
            ),
            VISITOR_ANSWER,
        ],
    )
    def patch(self, request, visitor_id: int):
        visitor = selectors.visitor_get(visitor_id=visitor_id)
        data = self.ContactInput(data=request.data)
        data.is_valid(raise_exception=True)
        visitor = services.visitor_update(visitor=visitor, actor=request.user, **data.validated_data)
        return Response(VisitorOutput(visitor).data)


class VisitorCustomerDataApi(APIView):
    """The integration's data about its customer, shown to every agent in the visitor card."""

    @extend_schema(
        tags=TAGS,
        summary="Merge customer data (an item set to null is removed)",
        request={"application/json": CUSTOMER_DATA_SCHEMA},
        responses={200: VisitorOutput, **WRITE_ERRORS},
        examples=[OpenApiExample("shop", value=CUSTOMER_DATA_EXAMPLE, request_only=True), VISITOR_ANSWER],
    )
    def patch(self, request, visitor_id: int):
        return self._set(request, visitor_id, replace=False)

    @extend_schema(
        tags=TAGS,
        summary="Replace all customer data",
        request={"application/json": CUSTOMER_DATA_SCHEMA},
        responses={200: VisitorOutput, **WRITE_ERRORS},
        examples=[OpenApiExample("shop", value=CUSTOMER_DATA_EXAMPLE, request_only=True), VISITOR_ANSWER],
    )
    def put(self, request, visitor_id: int):
        return self._set(request, visitor_id, replace=True)

    def _set(self, request, visitor_id: int, *, replace: bool) -> Response:
        visitor = selectors.visitor_get(visitor_id=visitor_id)
        visitor = services.visitor_customer_data_set(
            visitor=visitor, data=request.data, replace=replace, actor=request.user
        )
        return Response(VisitorOutput(visitor).data)


class NoteInput(serializers.Serializer):
    body = serializers.CharField(max_length=5000)


class VisitorNoteListApi(generics.ListAPIView):
    serializer_class = NoteOutput
    pagination_class = None

    def get_queryset(self):
        return selectors.visitor_notes(visitor_id=self.kwargs["visitor_id"])

    @extend_schema(
        tags=TAGS, summary="Agents' notes about the visitor", responses={200: NoteOutput(many=True), **READ_ERRORS}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS,
        request=NoteInput,
        responses={201: NoteOutput, **WRITE_ERRORS},
        examples=[OpenApiExample("note", value={"body": "Prefers email."}, request_only=True), NOTE_ANSWER],
    )
    def post(self, request, visitor_id: int):
        visitor = selectors.visitor_get(visitor_id=visitor_id)
        data = NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.visitor_note_add(visitor=visitor, author=request.user, body=data.validated_data["body"])
        return Response(NoteOutput(note).data, status=status.HTTP_201_CREATED)


class VisitorNoteDetailApi(APIView):
    @extend_schema(tags=TAGS, request=NoteInput, responses={200: NoteOutput, **WRITE_ERRORS})
    def patch(self, request, visitor_id: int, note_id: int):
        note = selectors.visitor_note_get(visitor_id=visitor_id, note_id=note_id)
        data = NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.visitor_note_edit(note=note, actor=request.user, body=data.validated_data["body"])
        return Response(NoteOutput(note).data)

    @extend_schema(tags=TAGS, request=None, responses={204: None, **WRITE_ERRORS})
    def delete(self, request, visitor_id: int, note_id: int):
        note = selectors.visitor_note_get(visitor_id=visitor_id, note_id=note_id)
        services.visitor_note_delete(note=note, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VisitorPageViewListApi(generics.ListAPIView):
    serializer_class = PageViewOutput
    pagination_class = NewestIdFirstPagination

    def get_queryset(self):
        return selectors.visitor_page_views(visitor_id=self.kwargs["visitor_id"])

    @extend_schema(
        tags=TAGS, summary="Pages the visitor opened, newest first", responses={200: PageViewOutput, **READ_ERRORS}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
