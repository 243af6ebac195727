"""Session recordings: taking in the chat box's batches of rrweb events, finalising a visit into one
file once the visitor has left, and deleting old ones.

Privacy is the chat box's job first (inputs masked, card numbers never leave the browser, pages and
elements the website excludes are not recorded); here the batches are bounded in size and rate, and
only ever attached to the visitor whose key sent them.
"""

import gzip
import json
import logging
import uuid
import zlib
from datetime import timedelta

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import ServiceError
from helpdesk.models import Account

from .models import Recording, RecordingChunk, Visitor

logger = logging.getLogger(__name__)

MAX_CHUNK_BYTES = 256 * 1024  # compressed, as sent
MAX_CHUNK_EVENTS_BYTES = 4 * 1024 * 1024  # once decompressed: refuses compression bombs
MAX_RECORDING_BYTES = 20 * 1024 * 1024
MAX_CHUNKS_PER_MINUTE = 60
RRWEB_META = 4  # rrweb's EventType.Meta: a page was loaded, with its address


def _decompressed_events(data: bytes) -> list:
    try:
        inflater = zlib.decompressobj(wbits=31)  # gzip
        raw = inflater.decompress(data, MAX_CHUNK_EVENTS_BYTES + 1)
    except zlib.error:
        raise ServiceError(_("A recording batch is gzip-compressed JSON."), field="body") from None
    if len(raw) > MAX_CHUNK_EVENTS_BYTES or inflater.unconsumed_tail:
        raise ServiceError(_("A recording batch is too large once decompressed."), code="invalid", field="body")
    try:
        events = json.loads(raw)
    except ValueError:
        raise ServiceError(_("A recording batch is gzip-compressed JSON."), field="body") from None
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise ServiceError(_("A recording batch is a list of events."), field="body")
    return events


def _check_rate(visitor: Visitor) -> None:
    key = f"helpdesk:recording-rate:{visitor.key}:{int(timezone.now().timestamp() // 60)}"
    cache.add(key, 0, 120)
    if cache.incr(key) > MAX_CHUNKS_PER_MINUTE:
        raise ServiceError(_("Too many recording batches; slow down."), code="rate_limited")


@transaction.atomic
def recording_chunk_store(*, visitor: Visitor, session: str, sequence: int, data: bytes) -> RecordingChunk | None:
    """Keep one batch of a visit's recording. A batch sent twice is kept once; a visit over its size
    limit stops being recorded; nothing is kept when the account does not record visits."""
    if not Account.load().recording_enabled:
        raise ServiceError(_("This account does not record visits."), code="conflict")
    try:
        session_id = uuid.UUID(str(session))
    except ValueError:
        raise ServiceError(_("The session is a UUID."), field="session") from None
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence < 1_000_000:
        raise ServiceError(_("The sequence is a whole number."), field="sequence")
    if len(data) > MAX_CHUNK_BYTES:
        raise ServiceError(
            _("A recording batch is at most %(limit)d bytes.") % {"limit": MAX_CHUNK_BYTES}, field="body"
        )
    _decompressed_events(data)
    _check_rate(visitor)
    recording, _created = Recording.objects.get_or_create(visitor=visitor, session=session_id)
    recording = Recording.objects.select_for_update().get(pk=recording.pk)
    if recording.status != Recording.Status.RECORDING:
        raise ServiceError(_("This recording is already finished."), code="conflict", field="session")
    if recording.received_bytes + len(data) > MAX_RECORDING_BYTES:
        raise ServiceError(_("This recording reached its size limit."), code="conflict", field="body")
    try:
        with transaction.atomic():
            chunk = RecordingChunk.objects.create(recording=recording, sequence=sequence, data=data)
    except IntegrityError:
        return None  # sent again after a lost answer: already kept
    recording.received_bytes += len(data)
    recording.last_chunk_at = timezone.now()
    recording.save(update_fields=["received_bytes", "last_chunk_at"])
    return chunk


def recording_finalise(*, recording_id: int) -> Recording:
    """Join a visit's batches into one compressed file with its duration and pages. Safe to run twice:
    a recording that is no longer being recorded is left as it is."""
    with transaction.atomic():
        recording = Recording.objects.select_for_update().get(pk=recording_id)
        if recording.status != Recording.Status.RECORDING:
            return recording
        events = []
        for data in recording.chunks.order_by("sequence").values_list("data", flat=True):
            events.extend(_decompressed_events(bytes(data)))
        events.sort(key=lambda event: event.get("timestamp", 0))
        if not events:
            recording.status = Recording.Status.FAILED
            recording.failure = _("No events were recorded.")
        else:
            content = gzip.compress(json.dumps(events, separators=(",", ":")).encode(), compresslevel=6)
            recording.file.save(f"{recording.visitor_id}-{recording.session}.json.gz", ContentFile(content), save=False)
            recording.size_bytes = len(content)
            timestamps = [event["timestamp"] for event in events if isinstance(event.get("timestamp"), int | float)]
            recording.duration_ms = int(max(timestamps) - min(timestamps)) if timestamps else 0
            recording.pages = [
                event["data"]["href"]
                for event in events
                if event.get("type") == RRWEB_META and isinstance(event.get("data"), dict) and event["data"].get("href")
            ][:200]
            recording.status = Recording.Status.READY
        recording.finalised_at = timezone.now()
        recording.save()
        recording.chunks.all().delete()
    return recording


def recordings_of_departed_visitor(*, visitor_id: int) -> list[int]:
    """The visitor left the website: their recordings in progress are ready to finalise."""
    return list(
        Recording.objects.filter(visitor_id=visitor_id, status=Recording.Status.RECORDING).values_list("pk", flat=True)
    )


def recordings_purge(*, now=None) -> int:
    """Delete recordings (and their files) older than the account keeps them; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=Account.load().recording_retention_days)
    # Visits abandoned without a departure (a lost event) are settled after a day before deciding.
    stale = Recording.objects.filter(status=Recording.Status.RECORDING, last_chunk_at__lt=now - timedelta(days=1))
    for recording_id in stale.values_list("pk", flat=True):
        recording_finalise(recording_id=recording_id)
    old = Recording.objects.filter(started_at__lt=cutoff)
    deleted = 0
    for recording in old.iterator():
        if recording.file:
            recording.file.delete(save=False)
        recording.delete()
        deleted += 1
    return deleted
