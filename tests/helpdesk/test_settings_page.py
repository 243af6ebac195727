"""The agent's own settings: profile, password change, and password reset by email."""

import re

import pytest
from django.core import mail

from helpdesk.models import Agent

from ..factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_agent_changes_names_and_language(client, agent):
    client.force_login(agent)

    response = client.post("/settings/", {"name": "Lili L.", "public_name": "Lili", "language": "hu"}, follow=True)

    agent.refresh_from_db()
    assert (agent.name, agent.public_name, agent.language) == ("Lili L.", "Lili", "hu")
    assert "A beállításai mentve." in response.content.decode()


def test_settings_refuse_an_empty_name_and_an_unknown_language(client, agent):
    client.force_login(agent)

    response = client.post("/settings/", {"name": " ", "public_name": "", "language": "xx"})

    assert response.status_code == 400
    agent.refresh_from_db()
    assert agent.name == "Lili Limited"


def test_agent_uploads_an_avatar(client, agent, settings, tmp_path):
    from io import BytesIO

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    image = BytesIO()
    Image.new("RGB", (8, 8), "green").save(image, "PNG")
    client.force_login(agent)

    client.post(
        "/settings/",
        {"name": agent.name, "language": "en", "avatar": SimpleUploadedFile("me.png", image.getvalue(), "image/png")},
    )

    agent.refresh_from_db()
    assert agent.avatar.name.startswith("avatars/")


def test_agent_changes_password(client, agent):
    client.force_login(agent)

    response = client.post(
        "/settings/password/",
        {"old_password": PASSWORD, "new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.check_password("a-new-long-passphrase")


def test_password_reset_by_email(client, agent):
    page = client.get("/login/").content.decode()
    assert 'href="/password-reset/"' in page

    client.post("/password-reset/", {"email": agent.email})

    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/password-reset/\S+/\S+/", mail.outbox[0].body).group(0)
    form = client.get(link, follow=True)
    assert b"new_password1" in form.content
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "another-long-passphrase", "new_password2": "another-long-passphrase"},
    )
    assert response.status_code == 302
    assert Agent.objects.get(pk=agent.pk).check_password("another-long-passphrase")


def test_settings_need_login(client):
    assert client.get("/settings/").status_code == 302
