"""Integrations see what visitors attached to their emails, and download it with their API key."""

import pytest

from conversations.models import Channel, Conversation

from ..factories import AgentGroupFactory, ConversationFactory, MessageFactory, api_client_for
from .conftest import write_mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(settings, tmp_path):
    """An email conversation whose visitor attached invoice.pdf to their reply."""
    from channels_email.addresses import reply_address
    from channels_email.services import inbound_email_receive

    settings.MEDIA_ROOT = tmp_path
    conversation = ConversationFactory(channel=Channel.EMAIL, visitor__email="vera@example.com")
    MessageFactory(conversation=conversation, author="agent", body="Could you send the invoice?")
    mail = write_mail(to=reply_address(conversation.pk), body="Here is the invoice.")
    mail.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
    inbound_email_receive(mail=mail)
    return conversation


def test_the_conversation_lists_each_messages_attachments_with_a_download_url(invoice, full_agent):
    from channels_email.models import EmailAttachment

    api = api_client_for(full_agent)
    stored = EmailAttachment.objects.get()

    detail = api.get(f"/api/v1/conversations/{invoice.pk}/").json()
    listed = api.get(f"/api/v1/conversations/{invoice.pk}/messages/").json()["results"]

    asked, answered = detail["messages"]
    assert asked["attachments"] == []
    assert answered["attachments"] == [
        {
            "id": stored.pk,
            "filename": "invoice.pdf",
            "content_type": "application/pdf",
            "size": 16,
            "url": f"http://testserver/api/v1/conversations/{invoice.pk}/attachments/{stored.pk}/",
        }
    ]
    assert [message["attachments"] for message in listed] == [[], answered["attachments"]]


def test_an_api_key_downloads_an_attachment_of_a_conversation_its_agent_may_see(invoice, full_agent):
    api = api_client_for(full_agent)
    messages = api.get(f"/api/v1/conversations/{invoice.pk}/").json()["messages"]
    [url] = [attachment["url"] for message in messages for attachment in message["attachments"]]

    download = api.get(url, HTTP_ACCEPT="application/pdf")

    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 invoice"
    assert download["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
    assert download["Content-Type"] == "application/octet-stream"  # never shown inline


def test_an_attachment_is_not_found_for_an_agent_who_may_not_see_the_conversation(invoice, full_agent, agent):
    from channels_email.models import EmailAttachment

    attachment = EmailAttachment.objects.get()
    other = ConversationFactory(channel=Channel.EMAIL)
    url = f"/api/v1/conversations/{invoice.pk}/attachments/{attachment.pk}/"
    Conversation.objects.filter(pk=invoice.pk).update(group=AgentGroupFactory(name="Billing"))

    outsider = api_client_for(agent).get(url)
    wrong_conversation = api_client_for(full_agent).get(
        f"/api/v1/conversations/{other.pk}/attachments/{attachment.pk}/"
    )
    no_such = api_client_for(full_agent).get(f"/api/v1/conversations/{invoice.pk}/attachments/{attachment.pk + 1}/")

    assert (outsider.status_code, outsider.json()["code"]) == (404, "not_found")
    assert wrong_conversation.status_code == no_such.status_code == 404
    assert api_client_for(full_agent).get(url).status_code == 200


def test_an_attachment_whose_file_is_gone_from_storage_is_not_found(invoice, full_agent):
    from channels_email.models import EmailAttachment

    attachment = EmailAttachment.objects.get()
    attachment.file.storage.delete(attachment.file.name)

    download = api_client_for(full_agent).get(f"/api/v1/conversations/{invoice.pk}/attachments/{attachment.pk}/")

    assert (download.status_code, download.json()["code"]) == (404, "not_found")
