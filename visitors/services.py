"""Changes to visitors: identity and contact details, notes, customer data from integrations."""

import json
import math
import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from helpdesk import events as hub
from helpdesk.errors import ServiceError
from helpdesk.models import Agent

from .events import visitor_payload
from .models import Visitor, VisitorNote

CONTACT_FIELDS = {"name": 200, "email": 254, "phone": 50}


def _clean_contact(changes: dict) -> dict:
    unknown = set(changes) - set(CONTACT_FIELDS)
    if unknown:
        raise ServiceError(_("These fields cannot be changed: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    cleaned = {}
    for field, value in changes.items():
        value = "" if value is None else value
        if not isinstance(value, str):
            raise ServiceError(_("This must be text."), field=field)
        value = value.strip()
        if len(value) > CONTACT_FIELDS[field]:
            raise ServiceError(_("At most %(limit)d characters.") % {"limit": CONTACT_FIELDS[field]}, field=field)
        if field == "email" and value:
            try:
                validate_email(value)
            except ValidationError:
                raise ServiceError(_("Enter a valid email address."), field="email") from None
        cleaned[field] = value
    return cleaned


def visitor_create(**fields) -> Visitor:
    contact = _clean_contact({key: fields.pop(key) for key in list(fields) if key in CONTACT_FIELDS})
    return Visitor.objects.create(**contact, **fields)


@transaction.atomic
def visitor_update(*, visitor: Visitor, actor: Agent | None = None, **changes) -> Visitor:
    """Change the visitor's name, email or phone (any agent may: the seed makes them editable)."""
    cleaned = _clean_contact(changes)
    visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
    changed = [field for field, value in cleaned.items() if getattr(visitor, field) != value]
    for field in changed:
        setattr(visitor, field, cleaned[field])
    if changed:
        visitor.save(update_fields=changed)
        hub.publish(
            {
                "type": "visitor.updated",
                "visitor": visitor_payload(visitor),
                "changed": changed,
                "actor_id": actor.pk if actor else None,
            }
        )
    return visitor


def _clean_note(body: str) -> str:
    body = (body or "").strip() if isinstance(body, str) else ""
    if not body:
        raise ServiceError(_("The note is empty."), field="body")
    if len(body) > 5000:
        raise ServiceError(_("At most %(limit)d characters.") % {"limit": 5000}, field="body")
    return body


def visitor_note_add(*, visitor: Visitor, author: Agent, body: str) -> VisitorNote:
    return VisitorNote.objects.create(visitor=visitor, author=author, body=_clean_note(body))


def visitor_note_edit(*, note: VisitorNote, actor: Agent, body: str) -> VisitorNote:
    note.body = _clean_note(body)
    note.save(update_fields=["body", "updated_at"])
    return note


def visitor_note_delete(*, note: VisitorNote, actor: Agent) -> None:
    note.delete()


CUSTOMER_DATA_MAX_ITEMS = 50
CUSTOMER_DATA_MAX_KEY = 64
CUSTOMER_DATA_MAX_LABEL = 100
CUSTOMER_DATA_MAX_TEXT = 1000
CUSTOMER_DATA_MAX_BYTES = 16_000
_CUSTOMER_DATA_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


def _clean_customer_item(key, item) -> dict:
    field = f"customer_data.{key}"
    if not isinstance(key, str) or not _CUSTOMER_DATA_KEY.match(key) or len(key) > CUSTOMER_DATA_MAX_KEY:
        raise ServiceError(
            _("A key is 1 to %(limit)d letters, digits, “_”, “-” or “.”.") % {"limit": CUSTOMER_DATA_MAX_KEY},
            field=f"customer_data.{str(key)[:CUSTOMER_DATA_MAX_KEY]}",
        )
    if not isinstance(item, dict) or set(item) - {"label", "value"} or "value" not in item:
        raise ServiceError(_("Each item is {“label”: text, “value”: …}."), field=field)
    label = item.get("label", key)
    if not isinstance(label, str) or not label.strip() or len(label) > CUSTOMER_DATA_MAX_LABEL:
        raise ServiceError(
            _("A label is 1 to %(limit)d characters.") % {"limit": CUSTOMER_DATA_MAX_LABEL}, field=f"{field}.label"
        )
    value = item["value"]
    if isinstance(value, float) and not math.isfinite(value):
        raise ServiceError(_("The value must be a finite number."), field=f"{field}.value")
    if not isinstance(value, str | int | float | bool) and value is not None:
        raise ServiceError(_("The value is text, a number, true/false or null."), field=f"{field}.value")
    if isinstance(value, str) and (len(value) > CUSTOMER_DATA_MAX_TEXT or "\x00" in value):
        raise ServiceError(
            _("A value is at most %(limit)d characters.") % {"limit": CUSTOMER_DATA_MAX_TEXT}, field=f"{field}.value"
        )
    if "\x00" in label:
        raise ServiceError(_("Null characters are not allowed."), field=f"{field}.label")
    return {"label": label.strip(), "value": value}


@transaction.atomic
def visitor_customer_data_set(
    *, visitor: Visitor, data: dict, replace: bool = False, actor: Agent | None = None
) -> Visitor:
    """An integration puts its customer's data on the visitor, as labelled values every agent sees:
    `replace` swaps the whole set, otherwise items merge in and an item set to null is removed."""
    if not isinstance(data, dict):
        raise ServiceError(_("Customer data is an object of {key: {label, value}}."), field="customer_data")
    visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
    merged = {} if replace else dict(visitor.customer_data or {})
    for key, item in data.items():
        if item is None and not replace:
            merged.pop(key, None)
            continue
        merged[key] = _clean_customer_item(key, item)
    if len(merged) > CUSTOMER_DATA_MAX_ITEMS:
        raise ServiceError(
            _("At most %(limit)d items of customer data.") % {"limit": CUSTOMER_DATA_MAX_ITEMS}, field="customer_data"
        )
    if len(json.dumps(merged)) > CUSTOMER_DATA_MAX_BYTES:
        raise ServiceError(
            _("Customer data is at most %(limit)d bytes.") % {"limit": CUSTOMER_DATA_MAX_BYTES}, field="customer_data"
        )
    if merged != visitor.customer_data:
        visitor.customer_data = merged
        visitor.save(update_fields=["customer_data"])
        hub.publish(
            {
                "type": "visitor.updated",
                "visitor": visitor_payload(visitor),
                "changed": ["customer_data"],
                "actor_id": actor.pk if actor else None,
            }
        )
    return visitor
