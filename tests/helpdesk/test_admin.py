import pytest

from conversations.models import Conversation
from helpdesk.models import Agent

from ..factories import ConversationFactory, VisitorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/helpdesk/agent/",
        "/admin/helpdesk/agent/add/",
        "/admin/helpdesk/agentgroup/",
        "/admin/conversations/conversation/",
        "/admin/conversations/tag/",
        "/admin/visitors/visitor/",
    ],
)
def test_owner_opens_every_admin_page(owner_client, url):
    ConversationFactory()

    assert owner_client.get(url).status_code == 200


@pytest.mark.parametrize("role", [Agent.Role.FULL, Agent.Role.LIMITED])
def test_only_the_owner_gets_into_the_admin(client, role):
    from ..factories import AgentFactory

    client.force_login(AgentFactory(role=role))

    assert client.get("/admin/").status_code == 302


def test_owner_creates_an_agent_in_the_admin(owner_client):
    response = owner_client.post(
        "/admin/helpdesk/agent/add/",
        {
            "email": "new@example.com",
            "name": "New Agent",
            "public_name": "",
            "role": "limited",
            "usable_password": "true",
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Agent.objects.get(email="new@example.com").check_password("a-long-passphrase-1")


def test_the_admins_new_agent_is_made_by_the_service_and_refused_on_the_form(owner_client):
    from ..factories import AgentFactory

    AgentFactory(email="taken@example.com")
    form = {"name": " Nora ", "public_name": "", "role": "limited", "usable_password": "false"}

    made = owner_client.post("/admin/helpdesk/agent/add/", form | {"email": "Nora@Example.com"})
    refused = owner_client.post("/admin/helpdesk/agent/add/", form | {"email": "Taken@Example.com"})

    assert made.status_code == 302
    nora = Agent.objects.get(name="Nora")
    assert nora.email == "nora@example.com" and not nora.has_usable_password()
    assert refused.status_code == 200
    assert "Another agent already uses this email address." in refused.content.decode()
    assert not Agent.objects.filter(email__iexact="taken@example.com").exclude(email="taken@example.com").exists()


def test_owner_creates_renames_and_deletes_tags_in_the_admin_through_the_services(owner_client, owner, monkeypatch):
    from conversations import services as conversation_services
    from conversations.models import Tag

    from ..factories import TagFactory

    called = []
    for name in ("tag_create", "tag_rename", "tag_delete"):
        service = getattr(conversation_services, name)
        monkeypatch.setattr(
            conversation_services,
            name,
            lambda *args, _name=name, _service=service, **kwargs: called.append(_name) or _service(*args, **kwargs),
        )
    refund = TagFactory(name="refund")
    conversation = ConversationFactory(tags=[refund])

    owner_client.post("/admin/conversations/tag/add/", {"name": " VIP "})
    taken = owner_client.post(f"/admin/conversations/tag/{refund.pk}/change/", {"name": "vip"})
    owner_client.post(f"/admin/conversations/tag/{refund.pk}/change/", {"name": "Refunds"})
    assert Tag.objects.get(pk=refund.pk).name == "Refunds"
    owner_client.post(f"/admin/conversations/tag/{refund.pk}/delete/", {"post": "yes"})

    assert list(Tag.objects.values_list("name", flat=True)) == ["VIP"]
    assert "There is a tag with this name already." in taken.content.decode()
    assert not conversation.tags.exists()
    assert called == ["tag_create", "tag_rename", "tag_delete"]  # the refused rename never reached it


def test_admin_refuses_to_demote_the_last_owner(owner_client, owner):
    page = owner_client.get(f"/admin/helpdesk/agent/{owner.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "groups"}
    data.update({"role": "full", "avatar": "", "language": "en", "status": "offline"})

    response = owner_client.post(f"/admin/helpdesk/agent/{owner.pk}/change/", data)

    assert response.status_code == 200
    assert "at least one active owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == Agent.Role.OWNER


def test_deactivate_action_goes_through_the_service(owner_client, agent):
    owner_client.post("/admin/helpdesk/agent/", {"action": "deactivate", "_selected_action": [agent.pk]})

    agent.refresh_from_db()
    assert not agent.can_chat


def test_resolve_action_resolves_and_records_the_owner(owner_client, owner):
    conversation = ConversationFactory()

    owner_client.post(
        "/admin/conversations/conversation/", {"action": "resolve", "_selected_action": [conversation.pk]}
    )

    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED
    assert conversation.events.get(kind="resolved").actor == owner


def test_conversation_history_is_read_only_in_the_admin(owner_client):
    conversation = ConversationFactory()

    page = owner_client.get(f"/admin/conversations/conversation/{conversation.pk}/change/").content.decode()

    assert 'name="status"' not in page


def test_owner_edits_a_visitors_email_and_a_bad_one_is_refused(owner_client):
    visitor = VisitorFactory(name="Vera")
    url = f"/admin/visitors/visitor/{visitor.pk}/change/"
    base = {
        "name": "Vera K",
        "phone": "",
        "notes-TOTAL_FORMS": 0,
        "notes-INITIAL_FORMS": 0,
        "page_views-TOTAL_FORMS": 0,
        "page_views-INITIAL_FORMS": 0,
    }

    refused = owner_client.post(url, base | {"email": "nope"})
    saved = owner_client.post(url, base | {"email": "vera@example.com"})

    assert refused.status_code == 200
    assert saved.status_code == 302
    visitor.refresh_from_db()
    assert (visitor.name, visitor.email) == ("Vera K", "vera@example.com")


@pytest.fixture
def owner_who_cannot_chat(owner, owner_client):
    """An owner deactivated for chat still runs the admin, but the services refuse their writes."""
    Agent.objects.filter(pk=owner.pk).update(can_chat=False)
    return owner


def test_a_refused_visitor_change_shows_the_reason_on_the_form(owner_client, owner_who_cannot_chat):
    visitor = VisitorFactory(name="Vera")
    data = {"name": "Vera K", "email": "", "phone": ""}
    for inline in ("notes", "page_views"):
        data |= {f"{inline}-TOTAL_FORMS": 0, f"{inline}-INITIAL_FORMS": 0}

    response = owner_client.post(f"/admin/visitors/visitor/{visitor.pk}/change/", data)

    assert response.status_code == 200
    assert "Your account is inactive" in str(response.context["adminform"].form.non_field_errors())
    visitor.refresh_from_db()
    assert visitor.name == "Vera"


def test_a_refused_tag_deletion_shows_the_reason_and_keeps_the_tag(owner_client, owner_who_cannot_chat):
    from conversations.models import Tag

    from ..factories import TagFactory

    vip = TagFactory(name="vip")

    one = owner_client.post(f"/admin/conversations/tag/{vip.pk}/delete/", {"post": "yes"}, follow=True)
    selected = owner_client.post(
        "/admin/conversations/tag/", {"action": "delete_selected", "_selected_action": [vip.pk], "post": "yes"}
    )

    assert one.status_code == 200
    assert "Your account is inactive" in one.content.decode()
    assert selected.status_code == 302
    assert "Your account is inactive" in owner_client.get(selected.url).content.decode()
    assert Tag.objects.filter(pk=vip.pk).exists()


def test_a_tag_another_owner_creates_at_the_same_moment_is_refused_on_the_form(owner_client, monkeypatch):
    from conversations.models import Tag

    saved = Tag.save

    def created_by_another_owner_first(tag, *args, **kwargs):
        Tag.objects.bulk_create([Tag(name="vip")])  # committed between our checks and our insert
        return saved(tag, *args, **kwargs)

    monkeypatch.setattr(Tag, "save", created_by_another_owner_first)

    response = owner_client.post("/admin/conversations/tag/add/", {"name": "VIP"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"] == ["There is a tag with this name already."]
    assert not Tag.objects.filter(name="VIP").exists()


def test_a_tag_another_owner_deletes_while_it_is_renamed_is_reported_not_a_500(owner_client, monkeypatch):
    from conversations import services as conversation_services
    from conversations.models import Tag

    tag = Tag.objects.create(name="vip")
    rename = conversation_services.tag_rename

    def deleted_by_another_owner_first(*, tag, **kwargs):
        Tag.objects.filter(pk=tag.pk).delete()
        return rename(tag=tag, **kwargs)

    monkeypatch.setattr(conversation_services, "tag_rename", deleted_by_another_owner_first)

    response = owner_client.post(f"/admin/conversations/tag/{tag.pk}/change/", {"name": "VIP"}, follow=True)

    assert response.status_code == 200
    assert "It was deleted by someone else meanwhile; nothing was saved." in response.content.decode()
    # The deletion ran inside this request's transaction here, so it was rolled back with the save.
    assert list(Tag.objects.values_list("name", flat=True)) == ["vip"]


def test_an_email_another_owner_took_at_the_same_moment_is_refused_on_the_agent_form(owner_client, monkeypatch):
    saved = Agent.save

    def taken_by_another_owner_first(agent, *args, **kwargs):
        if not Agent.objects.filter(email="nora@example.com").exists():  # stored between our checks and our insert
            Agent.objects.bulk_create([Agent(email="nora@example.com", name="The other Nora")])
        return saved(agent, *args, **kwargs)

    monkeypatch.setattr(Agent, "save", taken_by_another_owner_first)
    form = {"email": "nora@example.com", "name": "Nora", "public_name": "", "role": "limited"}

    response = owner_client.post("/admin/helpdesk/agent/add/", form | {"usable_password": "false"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == ["Another agent already uses this email address."]
    assert not Agent.objects.filter(name="Nora").exists()
