"""Changes to visitors: identity and contact details, notes."""

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
