"""How a webhook delivery is signed and sent. The README shows integrators the receiving side."""

import hashlib
import hmac
import json
import time

import httpx
from django.conf import settings

SIGNATURE_HEADER = "X-Helpdesk-Signature"
TIMESTAMP_HEADER = "X-Helpdesk-Timestamp"
EVENT_ID_HEADER = "X-Helpdesk-Event-Id"
EVENT_TYPE_HEADER = "X-Helpdesk-Event"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`: the timestamp is signed so a captured
    request cannot be replayed later."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def body_of(delivery) -> bytes:
    document = {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def post(*, url: str, secret: str, delivery) -> httpx.Response:
    """POST the delivery once, signed now; raises httpx.HTTPError when the receiver cannot be reached."""
    body = body_of(delivery)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Helpdesk-Webhooks/1.0",
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_ID_HEADER: str(delivery.event_id),
        EVENT_TYPE_HEADER: delivery.event_type,
    }
    return httpx.post(url, content=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT, follow_redirects=False)
