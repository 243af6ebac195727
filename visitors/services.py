"""Changes to visitors: arriving and leaving, pages they open, identity and contact details, notes,
custom data from the website and customer data from integrations."""

import hashlib
import hmac
import json
import math
import re
import time
import uuid
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import events as hub
from helpdesk.errors import ServiceError
from helpdesk.models import Account, Agent
from helpdesk.permissions import why_cannot_write

from .browser import parse_user_agent
from .events import visitor_payload
from .location import city_for_ip, country_for_ip
from .models import PageView, Visitor, VisitorNote
from .permissions import why_cannot_change_note
from .presence import presence

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


def _refuse_if(reason: str | None) -> None:
    if reason:
        raise ServiceError(reason, code="forbidden")


@transaction.atomic
def visitor_update(*, visitor: Visitor, actor: Agent | None = None, **changes) -> Visitor:
    """Change the visitor's name, email or phone: any active agent may (the seed makes them editable),
    and so may the website on the visitor's own behalf (`actor=None`)."""
    if actor is not None:
        _refuse_if(why_cannot_write(actor))
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
    """An agent's note about the visitor, which every agent sees."""
    _refuse_if(why_cannot_write(author))
    return VisitorNote.objects.create(visitor=visitor, author=author, body=_clean_note(body))


def visitor_note_edit(*, note: VisitorNote, actor: Agent, body: str) -> VisitorNote:
    _refuse_if(why_cannot_change_note(actor, note))
    note.body = _clean_note(body)
    note.save(update_fields=["body", "updated_at"])
    return note


def visitor_note_delete(*, note: VisitorNote, actor: Agent) -> None:
    _refuse_if(why_cannot_change_note(actor, note))
    note.delete()


MAX_URL_LENGTH = 2000


def _publish_visitor(visitor: Visitor, kind: str, **extra) -> None:
    hub.publish({"type": f"visitor.{kind}", "visitor": visitor_payload(visitor), **extra})


@transaction.atomic
def visitor_arrive(*, key: str | None, connection: str, ip_address: str | None = None, user_agent: str = "") -> Visitor:
    """A chat box connects: the visitor its key names (a new visitor for an unknown key), with their
    address, location and browser brought up to date, counted as present."""
    visitor = _visitor_with_key(key)
    fields = {"last_seen_at": timezone.now()}
    if ip_address and (visitor is None or visitor.ip_address != ip_address):
        fields |= {"ip_address": ip_address, "country": country_for_ip(ip_address), "city": city_for_ip(ip_address)}
    if user_agent and (visitor is None or visitor.user_agent != user_agent[:1000]):
        fields |= {"user_agent": user_agent[:1000], **parse_user_agent(user_agent)}
    if visitor is None:
        visitor = Visitor.objects.create(**fields)
    else:
        for field, value in fields.items():
            setattr(visitor, field, value)
        visitor.save(update_fields=list(fields))
    store = presence()
    was_away = not store.connection_count(visitor.pk)
    store.connect(visitor.pk, connection)
    store.touch(visitor.pk)
    if was_away:
        _publish_visitor(visitor, "arrived")
    return visitor


def _visitor_with_key(key) -> Visitor | None:
    try:
        return Visitor.objects.filter(key=uuid.UUID(str(key))).first()
    except ValueError:
        return None


def visitor_heartbeat(*, visitor_id: int, connection: str) -> None:
    presence().connect(visitor_id, connection)


def visitor_touch(*, visitor_id: int) -> None:
    """The visitor did something (typed, wrote): not idle."""
    presence().touch(visitor_id)


def visitor_disconnect(*, visitor_id: int, connection: str) -> int:
    """A chat box closed; returns how many the visitor still has open. Whether they left the website
    is settled after a grace period (`visitor_settle_departure`), since moving between pages closes
    and reopens the box."""
    return presence().disconnect(visitor_id, connection)


def visitor_settle_departure(*, visitor_id: int) -> bool:
    """If the visitor has had no chat box open for the grace period, they left the website: say so
    once. Returns whether this call announced it."""
    from django.conf import settings

    store = presence()
    if not store.has_departed(visitor_id, before=time.time() - settings.VISITOR_LEFT_GRACE + 0.001):
        return False
    if not store.forget(visitor_id):
        return False  # another worker settled it first
    visitor = Visitor.objects.filter(pk=visitor_id).first()
    if visitor is None:
        return False
    _publish_visitor(visitor, "left")
    return True


def _clean_url(url, field: str, *, required: bool) -> str:
    if url in (None, "") and not required:
        return ""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH or urlsplit(url).scheme not in ("http", "https"):
        raise ServiceError(
            _("Enter an http(s) address of at most %(limit)d characters.") % {"limit": MAX_URL_LENGTH}, field=field
        )
    return url


@transaction.atomic
def page_view_record(*, visitor: Visitor, url: str, title: str = "", referrer: str = "") -> PageView:
    """The visitor opened a page (or a single-page site changed its address); their first referrer is kept."""
    url = _clean_url(url, "url", required=True)
    referrer = _clean_url(referrer, "referrer", required=False)
    title = title[:500] if isinstance(title, str) else ""
    if referrer and not visitor.first_referrer and urlsplit(referrer).netloc != urlsplit(url).netloc:
        visitor.first_referrer = referrer
        visitor.save(update_fields=["first_referrer"])
    presence().touch(visitor.pk)
    view = PageView.objects.create(visitor=visitor, url=url, title=title, referrer=referrer)
    hub.publish({"type": "visitor.page_viewed", "visitor": visitor_payload(visitor), "url": url, "title": title})
    return view


@transaction.atomic
def visitor_set_variables(*, visitor: Visitor, variables: dict) -> Visitor:
    """Custom data the website shows agents about this visitor; later values replace earlier ones."""
    if not isinstance(variables, dict) or len(variables) > LABELLED_MAX_ITEMS:
        raise ServiceError(
            _("Send at most %(limit)d labelled values as {key: {label, value}}.") % {"limit": LABELLED_MAX_ITEMS},
            field="variables",
        )
    cleaned = {key: _clean_labelled_item(key, item, "variables") for key, item in variables.items()}
    visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
    merged = {**visitor.variables, **cleaned}
    if merged == visitor.variables:
        return visitor  # websites send the same variables on every page: nothing to save or announce
    visitor.variables = merged
    visitor.save(update_fields=["variables"])
    _publish_visitor(visitor, "updated", changed=["variables"], actor_id=None)
    return visitor


def identity_hash(external_id: str, secret: str | None = None) -> str:
    """What the website computes on its server: HMAC-SHA256 of the customer id, hex."""
    secret = secret or Account.load().identity_secret
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def visitor_identify(*, visitor: Visitor, external_id: str, hash: str, **contact) -> Visitor:
    """A visitor logged in on the website. The website proves it with the id's HMAC; then this browser
    continues as that customer (their earlier conversations included), and what it wrote anonymously
    moves with it. Without a valid hash nothing changes: nobody can claim another customer's history."""
    if not isinstance(external_id, str) or not 0 < len(external_id) <= 255:
        raise ServiceError(_("The customer id is text of 1 to 255 characters."), field="id")
    if not isinstance(hash, str) or not hmac.compare_digest(hash.lower(), identity_hash(external_id)):
        raise ServiceError(_("The identity hash does not match this customer id."), code="forbidden", field="hash")
    cleaned = _clean_contact({key: value for key, value in contact.items() if value not in (None, "")})
    customer = Visitor.objects.select_for_update().filter(external_id=external_id).first()
    if customer is None:
        customer = Visitor.objects.select_for_update().get(pk=visitor.pk)
        if customer.external_id and customer.external_id != external_id:
            customer = Visitor.objects.create(external_id=external_id)  # another customer on a shared browser
        customer.external_id = external_id
    elif customer.pk != visitor.pk and not visitor.external_id:
        visitor.page_views.update(visitor=customer)
        visitor.conversations.update(visitor=customer)
    for field, value in cleaned.items():
        setattr(customer, field, value)
    customer.save()
    _publish_visitor(customer, "updated", changed=["external_id", *cleaned], actor_id=None)
    return customer


# Labelled values ({key: {label, value}}): the website's variables and integrations' customer data.
LABELLED_MAX_ITEMS = 50
LABELLED_MAX_KEY = 64
LABELLED_MAX_LABEL = 100
LABELLED_MAX_TEXT = 1000
CUSTOMER_DATA_MAX_BYTES = 16_000
_LABELLED_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


def _clean_labelled_item(key, item, prefix: str) -> dict:
    field = f"{prefix}.{key}"
    if not isinstance(key, str) or not _LABELLED_KEY.match(key) or len(key) > LABELLED_MAX_KEY:
        raise ServiceError(
            _("A key is 1 to %(limit)d letters, digits, “_”, “-” or “.”.") % {"limit": LABELLED_MAX_KEY},
            field=f"{prefix}.{str(key)[:LABELLED_MAX_KEY]}",
        )
    if not isinstance(item, dict) or set(item) - {"label", "value"} or "value" not in item:
        raise ServiceError(_("Each item is {“label”: text, “value”: …}."), field=field)
    label = item.get("label", key)
    if not isinstance(label, str) or not label.strip() or len(label) > LABELLED_MAX_LABEL:
        raise ServiceError(
            _("A label is 1 to %(limit)d characters.") % {"limit": LABELLED_MAX_LABEL}, field=f"{field}.label"
        )
    value = item["value"]
    if isinstance(value, float) and not math.isfinite(value):
        raise ServiceError(_("The value must be a finite number."), field=f"{field}.value")
    if not isinstance(value, str | int | float | bool) and value is not None:
        raise ServiceError(_("The value is text, a number, true/false or null."), field=f"{field}.value")
    if isinstance(value, str) and (len(value) > LABELLED_MAX_TEXT or "\x00" in value):
        raise ServiceError(
            _("A value is at most %(limit)d characters.") % {"limit": LABELLED_MAX_TEXT}, field=f"{field}.value"
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
    if actor is not None:
        _refuse_if(why_cannot_write(actor))
    if not isinstance(data, dict):
        raise ServiceError(_("Customer data is an object of {key: {label, value}}."), field="customer_data")
    visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
    merged = {} if replace else dict(visitor.customer_data or {})
    for key, item in data.items():
        if item is None and not replace:
            merged.pop(key, None)
            continue
        merged[key] = _clean_labelled_item(key, item, "customer_data")
    if len(merged) > LABELLED_MAX_ITEMS:
        raise ServiceError(
            _("At most %(limit)d items of customer data.") % {"limit": LABELLED_MAX_ITEMS}, field="customer_data"
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
