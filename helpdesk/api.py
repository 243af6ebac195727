"""The REST API for agents and agent groups (read-only: the owner manages them in the admin)."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .api_docs import READ_ERRORS
from .models import Agent
from .rest import OldestFirstPagination


@extend_schema_serializer(examples=[OpenApiExample("group", value={"id": 2, "name": "Billing"}, response_only=True)])
class GroupOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "agent",
            value={
                "id": 3,
                "name": "Lili Limited",
                "public_name": "Lili",
                "email": "lili@example.com",
                "role": "limited",
                "can_chat": True,
                "status": "online",
                "is_online": True,
                "groups": [{"id": 2, "name": "Billing"}],
            },
            response_only=True,
        )
    ]
)
class AgentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    public_name = serializers.CharField(source="display_public_name")
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Agent.Role.choices)
    can_chat = serializers.BooleanField(help_text="False for an inactive agent: can read but not chat.")
    status = serializers.ChoiceField(choices=Agent.Status.choices, help_text="What the agent chose.")
    is_online = serializers.BooleanField(help_text="Chose online and has a dashboard open.")
    groups = GroupOutput(many=True, source="groups.all")


class AgentListApi(generics.ListAPIView):
    serializer_class = AgentOutput
    pagination_class = OldestFirstPagination

    def get_queryset(self):
        return selectors.agents_list()

    @extend_schema(tags=["agents"], responses={200: AgentOutput, **READ_ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AgentDetailApi(APIView):
    @extend_schema(tags=["agents"], responses={200: AgentOutput, **READ_ERRORS})
    def get(self, request, agent_id: int):
        return Response(AgentOutput(selectors.agent_get(agent_id=agent_id)).data)


class GroupListApi(generics.ListAPIView):
    serializer_class = GroupOutput
    pagination_class = None

    def get_queryset(self):
        return selectors.groups_list()

    @extend_schema(tags=["groups"], responses={200: GroupOutput(many=True), **READ_ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
