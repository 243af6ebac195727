"""Inbound email through an ESP: django-anymail's inbound webhook for the ESP chosen in
EMAIL_INBOUND_ESP (protected by ANYMAIL_WEBHOOK_SECRET, plus the ESP's own signature where it has one),
whose `inbound` signal hands each mail to the same service as the SMTP receiver."""

import contextlib

from anymail import urls as anymail_urls
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from helpdesk.errors import ServiceError

from .services import inbound_email_receive


def _inbound_views() -> dict[str, object]:
    """Anymail's inbound webhook view of each ESP it supports, by ESP name ("postmark", "mailgun", ...)."""
    views = {}
    for pattern in anymail_urls.urlpatterns:
        if pattern.name and pattern.name.endswith("_inbound_webhook"):
            views[pattern.name.removesuffix("_inbound_webhook")] = pattern.callback
    return views


INBOUND_VIEWS = _inbound_views()


@csrf_exempt  # the ESP cannot send a CSRF token; anymail checks its secret instead
@login_not_required
def inbound_webhook(request: HttpRequest, esp: str) -> HttpResponse:
    """Only the configured ESP's webhook answers; the others do not exist."""
    if not settings.EMAIL_INBOUND_ESP or esp != settings.EMAIL_INBOUND_ESP or esp not in INBOUND_VIEWS:
        raise Http404("No inbound email webhook here.")
    return INBOUND_VIEWS[esp](request)


def anymail_inbound_received(sender, event, esp_name, **kwargs) -> None:
    """Store an inbound mail. A refusal is logged (by the service) and answered with success: the ESP
    would otherwise retry a mail that will never match."""
    message = event.message
    recipients = [message.envelope_recipient] if message.envelope_recipient else []
    with contextlib.suppress(ServiceError):
        inbound_email_receive(mail=message, envelope_recipients=recipients, envelope_sender=message.envelope_sender)
