"""The reply address of a conversation: reply+<id>-<signature>@EMAIL_INBOUND_DOMAIN.

The signature is an HMAC of the conversation id under SECRET_KEY (Django's `salted_hmac`, the primitive
behind `django.core.signing`), so nobody can guess or forge the address of another conversation.
Some mail servers lowercase the local part, so the signature is written in lowercase base32 and
compared case-insensitively; Django's own signed values (base64) would not survive that.
"""

import base64
import re

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "channels_email.reply-address"
# 80 bits of HMAC: unguessable, and short enough for a 64-character local part.
_SIGNATURE_BYTES = 10
_LOCAL_PART = re.compile(r"^reply\+(?P<id>\d{1,18})-(?P<signature>[a-z2-7]{16})$")


def _signature(conversation_id: int, secret: str) -> str:
    digest = salted_hmac(_SALT, str(conversation_id), secret=secret, algorithm="sha256").digest()
    return base64.b32encode(digest[:_SIGNATURE_BYTES]).decode("ascii").lower()


def reply_token(conversation_id: int) -> str:
    return f"{conversation_id}-{_signature(conversation_id, settings.SECRET_KEY)}"


def reply_address(conversation_id: int) -> str:
    return f"reply+{reply_token(conversation_id)}@{settings.EMAIL_INBOUND_DOMAIN}"


def looks_like_reply_address(address: str) -> bool:
    """Has the form of a reply address (whether or not its signature is right)."""
    local, _, domain = address.strip().lower().rpartition("@")
    return local.startswith("reply+") and domain == settings.EMAIL_INBOUND_DOMAIN.lower()


def conversation_id_from_address(address: str) -> int | None:
    """The conversation a reply address stands for, or None when it is not one or its signature is
    wrong. Keys in SECRET_KEY_FALLBACKS still verify, so rotating the key does not orphan threads."""
    local, _, domain = address.strip().lower().rpartition("@")
    if domain != settings.EMAIL_INBOUND_DOMAIN.lower():
        return None
    match = _LOCAL_PART.match(local)
    if not match:
        return None
    conversation_id = int(match["id"])
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        if constant_time_compare(match["signature"], _signature(conversation_id, secret)):
            return conversation_id
    return None
