import gzip
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk import events as hub
from helpdesk.errors import ServiceError
from helpdesk.models import Account
from visitors import recordings
from visitors.models import Recording, RecordingChunk

from ..factories import VisitorFactory

pytestmark = pytest.mark.django_db
SESSION = str(uuid.uuid4())


def batch(*events) -> bytes:
    return gzip.compress(json.dumps(list(events)).encode())


def page(href, timestamp):
    return {"type": 4, "data": {"href": href, "width": 1280, "height": 800}, "timestamp": timestamp}


def snapshot(timestamp):
    return {"type": 2, "data": {"node": {"type": 0, "childNodes": []}}, "timestamp": timestamp}


@pytest.fixture
def visitor():
    return VisitorFactory()


def store(visitor, sequence, data, session=SESSION):
    return recordings.recording_chunk_store(visitor=visitor, session=session, sequence=sequence, data=data)


def test_a_visit_is_joined_in_order_into_one_file_with_its_duration_and_pages(visitor):
    store(visitor, 1, batch(page("https://shop.example.com/cart", 61_000), snapshot(61_001)))
    store(visitor, 0, batch(page("https://shop.example.com/", 1_000), snapshot(1_001)))
    recording = Recording.objects.get(visitor=visitor)

    finished = recordings.recording_finalise(recording_id=recording.pk)

    assert finished.status == Recording.Status.READY
    assert finished.duration_ms == 60_001
    assert finished.pages == ["https://shop.example.com/", "https://shop.example.com/cart"]
    events = json.loads(gzip.decompress(finished.file.read()))
    assert [event["timestamp"] for event in events] == [1_000, 1_001, 61_000, 61_001]
    assert not RecordingChunk.objects.exists()
    finished.file.delete(save=False)


def test_finalising_twice_changes_nothing(visitor):
    store(visitor, 0, batch(snapshot(1)))
    recording = Recording.objects.get(visitor=visitor)
    first = recordings.recording_finalise(recording_id=recording.pk)

    again = recordings.recording_finalise(recording_id=recording.pk)

    assert (again.file.name, again.finalised_at) == (first.file.name, first.finalised_at)
    first.file.delete(save=False)


def test_a_batch_sent_twice_is_kept_once(visitor):
    store(visitor, 0, batch(snapshot(1)))

    assert store(visitor, 0, batch(snapshot(1))) is None
    assert RecordingChunk.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"not gzip", "body"),
        (gzip.compress(b"{not json"), "body"),
        (gzip.compress(b'{"an": "object"}'), "body"),
        (gzip.compress(b"[" + b"0," * 3_000_000 + b"0]"), "body"),  # a compression bomb
        (b"x" * (recordings.MAX_CHUNK_BYTES + 1), "body"),
    ],
)
def test_a_malformed_or_oversized_batch_is_refused(visitor, data, field):
    with pytest.raises(ServiceError) as refused:
        store(visitor, 0, data)

    assert refused.value.field == field
    assert not RecordingChunk.objects.exists()


def test_a_bad_session_or_sequence_is_refused(visitor):
    with pytest.raises(ServiceError) as bad_session:
        store(visitor, 0, batch(snapshot(1)), session="not-a-uuid")
    with pytest.raises(ServiceError) as bad_sequence:
        recordings.recording_chunk_store(visitor=visitor, session=SESSION, sequence=-1, data=batch(snapshot(1)))

    assert (bad_session.value.field, bad_sequence.value.field) == ("session", "sequence")


def test_too_many_batches_a_minute_are_refused(visitor, settings):
    import time_machine

    # The limit counts per clock minute: the clock stands still so the test cannot straddle two.
    with time_machine.travel(timezone.now().replace(second=1), tick=False):
        for sequence in range(recordings.MAX_CHUNKS_PER_MINUTE):
            store(visitor, sequence, batch(snapshot(sequence)))

        with pytest.raises(ServiceError) as refused:
            store(visitor, 999, batch(snapshot(999)))

    assert refused.value.code == "rate_limited"


def test_nothing_is_kept_when_the_account_does_not_record(visitor):
    account = Account.load()
    account.recording_enabled = False
    account.save()

    with pytest.raises(ServiceError) as refused:
        store(visitor, 0, batch(snapshot(1)))

    assert refused.value.code == "conflict"
    assert not Recording.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_visitor_leaving_the_website_finalises_their_recording(visitor):
    store(visitor, 0, batch(page("https://shop.example.com/", 5), snapshot(6)))

    hub._dispatch({"type": "visitor.left", "visitor": {"id": visitor.pk}})

    recording = Recording.objects.get(visitor=visitor)
    assert recording.status == Recording.Status.READY
    recording.file.delete(save=False)


def test_old_recordings_are_deleted_with_their_files(visitor):
    store(visitor, 0, batch(snapshot(1)))
    recording = recordings.recording_finalise(recording_id=Recording.objects.get().pk)
    path = recording.file.path
    Recording.objects.filter(pk=recording.pk).update(started_at=timezone.now() - timedelta(days=31))

    assert recordings.recordings_purge() == 1

    assert not Recording.objects.exists()
    import os

    assert not os.path.exists(path)


def test_a_visit_abandoned_without_a_departure_is_finalised_a_day_later(visitor):
    store(visitor, 0, batch(snapshot(1)))
    Recording.objects.update(last_chunk_at=timezone.now() - timedelta(days=2))

    recordings.recordings_purge()

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.READY
    recording.file.delete(save=False)


# --- Over HTTP --------------------------------------------------------------------------------------


def post(client, visitor, data, *, origin="http://testserver", session=SESSION, sequence=0):
    return client.post(
        f"/widget/recording/?session={session}&sequence={sequence}",
        data=data,
        content_type="application/octet-stream",
        headers={"Origin": origin, "X-Visitor-Token": str(visitor.key)},
    )


def test_the_chat_box_uploads_a_batch(client, visitor):
    assert post(client, visitor, batch(snapshot(1))).status_code == 204
    assert RecordingChunk.objects.count() == 1


def test_uploads_from_other_websites_or_strangers_are_refused(client, visitor):
    assert post(client, visitor, batch(snapshot(1)), origin="https://evil.example.net").status_code == 403
    stranger = VisitorFactory.build()
    assert post(client, stranger, batch(snapshot(1))).status_code == 403
    assert not RecordingChunk.objects.exists()


def test_an_upload_error_names_the_field(client, visitor):
    response = post(client, visitor, b"not gzip")

    assert response.status_code == 400
    assert response.json()["field"] == "body"


def test_agents_play_a_recording_and_visitors_cannot(client, visitor, agent):
    store(visitor, 0, batch(page("https://shop.example.com/", 1), snapshot(2)))
    recording = recordings.recording_finalise(recording_id=Recording.objects.get().pk)
    data_url = f"/recordings/{recording.pk}/events.json"

    assert client.get(data_url).status_code == 302  # to the login page
    client.force_login(agent)
    page_response = client.get(f"/visitors/{visitor.pk}/recordings/{recording.pk}/")
    data = client.get(data_url)

    assert page_response.status_code == 200
    assert b"rrweb-player" in page_response.content
    assert data["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(data.content))[0]["type"] == 4
    recording.file.delete(save=False)
