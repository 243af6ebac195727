from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from helpdesk.errors import ServiceError
from helpdesk.models import ApiKey
from helpdesk.services import api_key_authenticate, api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def test_only_a_hash_of_the_key_is_stored(owner, agent):
    api_key, key = api_key_create(agent=agent, name="Web shop", actor=owner)

    stored = ApiKey.objects.get()
    assert key.startswith(stored.prefix + ".")
    assert key not in {stored.key_hash, stored.prefix, stored.name}
    assert api_key_authenticate(key=key) == api_key


def test_only_the_owner_creates_keys(full_agent, agent):
    with pytest.raises(ServiceError) as refused:
        api_key_create(agent=agent, name="Web shop", actor=full_agent)

    assert refused.value.code == "forbidden"


def test_a_key_needs_a_name(owner, agent):
    with pytest.raises(ServiceError) as refused:
        api_key_create(agent=agent, name="  ", actor=owner)

    assert refused.value.field == "name"


def test_a_key_with_a_wrong_secret_is_not_accepted(owner, agent):
    api_key, _key = api_key_create(agent=agent, name="Web shop", actor=owner)

    assert api_key_authenticate(key=f"{api_key.prefix}.guessed") is None
    assert api_key_authenticate(key="") is None


def test_a_revoked_key_is_not_accepted(owner, agent):
    api_key, key = api_key_create(agent=agent, name="Web shop", actor=owner)

    api_key_revoke(api_key=api_key, actor=owner)

    assert api_key_authenticate(key=key) is None


def test_last_use_is_recorded_to_the_minute(owner, agent):
    api_key, key = api_key_create(agent=agent, name="Web shop", actor=owner)
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        api_key_authenticate(key=key)
    with time_machine.travel(start + timedelta(seconds=20), tick=False):
        api_key_authenticate(key=key)
    api_key.refresh_from_db()
    assert api_key.last_used_at == start

    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        api_key_authenticate(key=key)
    api_key.refresh_from_db()
    assert api_key.last_used_at == start + timedelta(minutes=2)


def test_the_owner_creates_a_key_in_the_admin_and_sees_it_once(client, owner, agent):
    client.force_login(owner)

    response = client.post("/admin/helpdesk/apikey/add/", {"name": "Web shop", "agent": agent.pk, "read_only": "on"})

    shown = response.content.decode()
    api_key = ApiKey.objects.get()
    key = shown.split('id="api-key"')[1].split(">")[1].split("<")[0]
    assert api_key_authenticate(key=key) == api_key
    assert api_key.read_only
    assert key not in client.get(f"/admin/helpdesk/apikey/{api_key.pk}/change/").content.decode()


def test_the_owner_revokes_keys_in_the_admin(client, owner, agent):
    api_key, key = api_key_create(agent=agent, name="Web shop", actor=owner)
    client.force_login(owner)

    client.post("/admin/helpdesk/apikey/", {"action": "revoke", "_selected_action": [api_key.pk]})

    assert api_key_authenticate(key=key) is None
