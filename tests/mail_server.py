"""A real SMTP server on 127.0.0.1 for tests, which Django's SMTP backend sends to."""

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from .live_servers import free_port


class RecordingHandler:
    """A mail server that keeps what it receives, or answers every mail with `answer`."""

    def __init__(self):
        self.envelopes = []
        self.answer = "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.answer.startswith("250"):
            self.envelopes.append(envelope)
        return self.answer

    @property
    def mails(self) -> list[EmailMessage]:
        return [
            message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            for envelope in self.envelopes
        ]


@pytest.fixture
def smtp_server(settings):
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_TIMEOUT = 5
    yield handler
    controller.stop()
