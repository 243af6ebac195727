import factory
from django.utils import timezone

from conversations.models import Channel, Conversation, Message, Tag
from helpdesk import services as account_services
from helpdesk.models import Agent, AgentGroup
from visitors.models import Visitor

PASSWORD = "correct-horse-battery-staple"


class AgentGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentGroup
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Group {n}")


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent
        skip_postgeneration_save = True

    class Params:
        online = factory.Trait(status=Agent.Status.ONLINE, last_seen_at=factory.LazyFunction(timezone.now))

    email = factory.Sequence(lambda n: f"agent{n}@example.com")
    name = factory.Sequence(lambda n: f"Agent {n}")
    role = Agent.Role.LIMITED
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.set(extracted)

    @factory.post_generation
    def online_span(self, create, extracted, **kwargs):
        """An agent made online has their online time recorded as the services record it."""
        if create and self.is_online:
            account_services.agent_set_status(agent=self, status=Agent.Status.ONLINE)


class VisitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visitor

    name = factory.Sequence(lambda n: f"Visitor {n}")
    ip_address = "203.0.113.7"


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"tag{n}")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation
        skip_postgeneration_save = True

    visitor = factory.SubFactory(VisitorFactory)
    channel = Channel.WEB
    page_url = "https://shop.example.com/"
    ip_address = "203.0.113.7"

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set(extracted)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    author = Message.Author.VISITOR
    body = factory.Faker("sentence")


def api_client_for(agent: Agent, *, read_only: bool = False):
    """A REST API client authenticated with a new API key acting as `agent`."""
    from rest_framework.test import APIClient

    from helpdesk.services import api_key_create

    owner = Agent.objects.filter(role=Agent.Role.OWNER).first() or AgentFactory(role=Agent.Role.OWNER)
    api_key, key = api_key_create(agent=agent, name="Test integration", read_only=read_only, actor=owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    client.api_key = api_key
    return client
