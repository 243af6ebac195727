"""The REST API for agents and agent groups (read-only: the owner manages them in the admin)."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .api_docs import READ_ERRORS
from .errors import ServiceError
from .models import Agent, AgentGroup
from .rest import OldestFirstPagination


class GroupOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


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
    queryset = Agent.objects.filter(is_active=True).prefetch_related("groups")

    @extend_schema(tags=["agents"], responses={200: AgentOutput, **READ_ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AgentDetailApi(APIView):
    @extend_schema(tags=["agents"], responses={200: AgentOutput, **READ_ERRORS})
    def get(self, request, agent_id: int):
        agent = Agent.objects.filter(is_active=True, pk=agent_id).first()
        if agent is None:
            raise ServiceError(_("No such agent."), code="not_found")
        return Response(AgentOutput(agent).data)


class GroupListApi(generics.ListAPIView):
    serializer_class = GroupOutput
    pagination_class = None
    queryset = AgentGroup.objects.order_by("name")

    @extend_schema(tags=["groups"], responses={200: GroupOutput(many=True), **READ_ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
