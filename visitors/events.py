"""Payloads of visitor events published through `helpdesk.events`."""

from .models import Visitor


def visitor_payload(visitor: Visitor) -> dict:
    return {
        "id": visitor.pk,
        "name": visitor.name,
        "email": visitor.email,
        "phone": visitor.phone,
        "country": visitor.country,
        "city": visitor.city,
        "last_seen_at": visitor.last_seen_at.isoformat(),
        "customer_data": visitor.customer_data,
    }
