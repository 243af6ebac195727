import pytest

from channels_email.addresses import reply_address
from channels_email.services import inbound_email_receive

from .conftest import write_mail

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("/admin/channels_email/threadedemail/", b"Re: Reply to your message"),
        ("/admin/channels_email/emailattachment/", b"scan.pdf"),
    ],
)
def test_owner_sees_the_email_threads_and_attachments(client, owner, conversation, url, shown):
    mail = write_mail(to=reply_address(conversation.pk))
    mail.add_attachment(b"data", maintype="application", subtype="pdf", filename="scan.pdf")
    inbound_email_receive(mail=mail)
    client.force_login(owner)

    response = client.get(url)

    assert response.status_code == 200
    assert shown in response.content
