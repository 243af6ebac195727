"""Reads for the Messenger channel."""

import hashlib
import hmac

from django.conf import settings
from django.urls import reverse

from .models import FacebookPage, MessengerContact

SIGNATURE_PREFIX = "sha256="


def webhook_url() -> str:
    """The address to paste into the Facebook app's webhook settings."""
    return f"{settings.SITE_URL.rstrip('/')}{reverse('channels_fb:webhook')}"


def signature_is_valid(*, body: bytes, header: str | None) -> bool:
    """Facebook signs every POST with the app secret (HMAC-SHA256 of the raw body). Pages of one app share
    the secret, pages of several apps have their own, so the signature may match any stored page's secret."""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    given = header[len(SIGNATURE_PREFIX) :].strip().lower()
    secrets = set(FacebookPage.objects.exclude(app_secret="").values_list("app_secret", flat=True))
    matched = False
    for secret in secrets:  # compare with every secret, in constant time each, without stopping early
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected, given)
    return matched


def verify_token_is_known(token: str | None) -> bool:
    if not token:
        return False
    matched = False
    for known in FacebookPage.objects.values_list("verify_token", flat=True):
        matched |= hmac.compare_digest(known.encode(), token.encode())
    return matched


def contact_find(*, page: FacebookPage, psid: str) -> MessengerContact | None:
    return MessengerContact.objects.select_related("visitor").filter(page=page, psid=psid).first()
