import asyncio

import pytest

from helpdesk.channel_layer import ReliableRedisChannelLayer


async def received(layer, channel, timeout=0.5):
    try:
        return await asyncio.wait_for(layer.receive(channel), timeout)
    except TimeoutError:
        return None


@pytest.mark.asyncio
async def test_one_message_to_several_groups_reaches_each_member_once(redis_url):
    layer = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-many")
    inbox_reader = await layer.new_channel()
    assigned_reader = await layer.new_channel()  # in both groups
    outsider = await layer.new_channel()
    await layer.group_add("inbox-full", inbox_reader)
    await layer.group_add("inbox-full", assigned_reader)
    await layer.group_add("agent-7", assigned_reader)
    await layer.group_add("agent-8", outsider)

    await layer.group_send_many(["inbox-full", "agent-7", "inbox-empty"], {"type": "frame.send", "n": 1})

    assert (await received(layer, inbox_reader))["n"] == 1
    assert (await received(layer, assigned_reader))["n"] == 1
    assert await received(layer, assigned_reader) is None  # not a second copy
    assert await received(layer, outsider) is None
    await layer.flush()


@pytest.mark.asyncio
async def test_sending_to_groups_without_members_is_no_error(redis_url):
    layer = ReliableRedisChannelLayer(hosts=[redis_url], prefix="test-many-empty")
    await layer.group_send_many(["nobody-here", "nor-here"], {"type": "frame.send"})
    await layer.flush()
