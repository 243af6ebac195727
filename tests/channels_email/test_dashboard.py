"""Answering by email from the dashboard: offered once the visitor has left and their address is known,
refused (with the reason on the visitor card) when it is not, on every path a reply takes."""

import pytest

from conversations import services
from conversations.models import Channel, Message
from helpdesk.errors import ServiceError
from visitors.presence import presence

from ..factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

NO_EMAIL = "No email address is known for this visitor"


@pytest.fixture
def signed_in(client, agent):
    client.force_login(agent)
    return client


def composer(page: str) -> str:
    return page[page.index('id="composer"') : page.index("</form>", page.index('id="composer"'))]


def test_reply_by_email_to_a_visitor_without_an_address_is_refused_on_the_channel(agent):
    """The socket's `message.send` with `channel: "email"` goes straight to message_create."""
    conversation = ConversationFactory(visitor__email="")

    with pytest.raises(ServiceError) as refused:
        services.message_create(
            conversation=conversation, author="agent", agent=agent, body="Hello", channel=Channel.EMAIL
        )

    assert refused.value.field == "channel"
    assert NO_EMAIL in refused.value.message
    assert not Message.objects.exists()


def test_visitor_who_left_with_a_known_address_is_offered_send_as_email(signed_in):
    conversation = ConversationFactory(visitor__email="vera@example.com")

    opened = composer(signed_in.get(f"/conversations/{conversation.pk}/").content.decode())

    assert '<label class="as-email" id="as-email">' in opened
    assert 'name="as_email" value="email"' in opened
    assert "This reply goes to vera@example.com by email." in opened


def test_visitor_still_on_the_website_gets_a_chat_reply_the_option_waits_hidden(signed_in):
    conversation = ConversationFactory(visitor__email="vera@example.com")
    presence().connect(conversation.visitor_id, "tab-1")

    opened = composer(signed_in.get(f"/conversations/{conversation.pk}/").content.decode())

    assert '<label class="as-email" id="as-email" hidden>' in opened


def test_without_an_address_the_option_is_absent_and_the_card_says_why(signed_in):
    conversation = ConversationFactory(visitor__email="")

    opened = signed_in.get(f"/conversations/{conversation.pk}/").content.decode()
    card = signed_in.get(f"/conversations/{conversation.pk}/card/").content.decode()

    assert "as_email" not in composer(opened)
    for html in (opened, card):
        assert f'<p class="why" data-why="email">{NO_EMAIL}' in html


def test_email_conversation_rows_and_messages_carry_the_red_envelope(signed_in, agent):
    conversation = ConversationFactory(channel=Channel.EMAIL, visitor__email="vera@example.com")
    MessageFactory(conversation=conversation, channel=Channel.EMAIL)
    MessageFactory(
        conversation=conversation,
        channel=Channel.EMAIL,
        author=Message.Author.AGENT,
        agent=agent,
        delivery_status=Message.Delivery.FAILED,
        delivery_error="550 mailbox unavailable",
    )

    inbox = signed_in.get("/").content.decode()
    opened = signed_in.get(f"/conversations/{conversation.pk}/").content.decode()

    envelope = 'class="channel-mark channel-email"'
    assert envelope in inbox.split('<li class="row')[1]
    messages = opened.split('<li class="message')[1:]
    assert len(messages) == 2 and all(envelope in message for message in messages)
    assert '<span class="delivery-error">550 mailbox unavailable</span>' in opened


def test_email_option_appears_once_an_agent_typed_the_address(signed_in, agent):
    conversation = ConversationFactory(visitor__email="")
    before = signed_in.get(f"/conversations/{conversation.pk}/email-option/").content.decode()
    signed_in.post(f"/visitors/{conversation.visitor_id}/contact", {"field": "email", "value": "vera@example.com"})

    after = signed_in.get(f"/conversations/{conversation.pk}/email-option/").content.decode()

    assert '<div class="email-option" id="email-option"></div>' in before
    assert 'name="as_email"' in after and "vera@example.com" in after


def test_agents_who_may_see_the_conversation_open_an_emails_attachment_from_the_thread(
    client, agent, full_agent, settings, tmp_path
):
    from channels_email.addresses import reply_address
    from channels_email.services import inbound_email_receive
    from conversations.models import Conversation

    from ..factories import AgentGroupFactory
    from .conftest import write_mail

    settings.MEDIA_ROOT = tmp_path
    conversation = ConversationFactory(channel=Channel.EMAIL, visitor__email="vera@example.com")
    mail = write_mail(to=reply_address(conversation.pk), body="Here is the invoice.")
    mail.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
    inbound_email_receive(mail=mail)
    client.force_login(full_agent)

    thread = client.get(f"/conversations/{conversation.pk}/").content.decode()
    link = thread[thread.index('<ul class="files">') :].split('href="', 1)[1].split('"', 1)[0]
    download = client.get(link)

    assert "invoice.pdf" in thread
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 invoice"
    assert download["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
    # A limited agent outside the conversation's group gets nothing, as for the conversation itself.
    Conversation.objects.filter(pk=conversation.pk).update(group=AgentGroupFactory(name="Billing"))
    client.force_login(agent)
    assert client.get(link).status_code == 404
    client.logout()
    assert client.get(link).status_code == 302
