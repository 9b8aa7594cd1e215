"""Progress publishing (throttled, over the real Redis channel layer) and the consumer."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from lipsync.errors import CancelledError
from lipsync.progress import Progress
from rendering.models import RenderTask, TaskStatus
from rendering.progress import TaskProgressReporter, group_name, publish_task
from rendering.services import batches as service
from studio.actor import Actor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def batch(use_redis, library, member):
    return service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project, audios=[library.hello], presenters=[library.anna, library.bo]
        ),
    )


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _drain(channel: str) -> list[dict]:
    layer = get_channel_layer()
    messages = []

    async def pull():
        import asyncio

        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), 0.3))
            except TimeoutError:
                return

    async_to_sync(pull)()
    return messages


def test_reporter_throttles_messages_db_writes_and_heartbeats(batch):
    task = batch.tasks.first()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group_name(batch.pk), channel)
    clock = FakeClock()
    writes, beats = [], []
    reporter = TaskProgressReporter(
        task,
        write=lambda f: writes.append(f) or True,
        heartbeat=lambda: beats.append(clock.now),
        clock=clock,
        messages_per_s=4,
        db_interval_s=1.0,
        heartbeat_interval_s=5.0,
    )
    # 12 seconds of rendering, reported 50 times a second, in one stage
    for i in range(600):
        clock.now += 0.02
        reporter(Progress("render", i / 600, i / 600, i, 600, 25.0, 12 - i / 50))
    reporter(Progress("render", 1.0, 1.0, 600, 600, 25.0, 0.0))
    assert 47 <= reporter.messages_sent <= 51, reporter.messages_sent  # ~4/s, plus first/last
    assert 12 <= len(writes) <= 15
    assert len(beats) == 2 and beats[1] - beats[0] >= 5.0
    received = _drain(channel)
    assert len(received) == reporter.messages_sent
    percents = [m["task"]["percent"] for m in received]
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert received[0]["type"] == "task.update" and received[0]["task"]["id"] == task.pk


def test_reporter_stops_the_render_when_the_task_is_taken_away(batch):
    task = batch.tasks.first()
    reporter = TaskProgressReporter(task, write=lambda f: False, clock=FakeClock())
    with pytest.raises(CancelledError):
        reporter(Progress("render", 0.1, 0.1, 1, 10, 10.0, 1.0))


def _communicator(client, batch_id):
    from heygem_site.asgi import application

    cookie = client.cookies["sessionid"].value if "sessionid" in client.cookies else ""
    return WebsocketCommunicator(
        application,
        f"/ws/batches/{batch_id}/",
        headers=[(b"cookie", f"sessionid={cookie}".encode()), (b"origin", b"http://localhost")],
    )


def test_member_gets_snapshot_then_updates_and_resync(batch, member_client):
    task = batch.tasks.first()

    def mark_running():
        RenderTask.objects.filter(pk=task.pk).update(
            status=TaskStatus.RUNNING, percent=42.0, stage="render"
        )
        task.refresh_from_db()
        publish_task(task)

    async def conversation():
        comm = _communicator(member_client, batch.pk)
        connected, _ = await comm.connect(timeout=20)
        assert connected
        snapshot = await comm.receive_json_from(timeout=20)
        await sync_to_async(mark_running)()
        update = await comm.receive_json_from(timeout=20)
        await comm.send_json_to({"type": "resync"})
        again = await comm.receive_json_from(timeout=20)
        await comm.disconnect()
        return snapshot, update, again

    snapshot, update, again = async_to_sync(conversation)()
    assert snapshot["type"] == "snapshot" and snapshot["batch"]["id"] == batch.pk
    assert [t["presenter"] for t in snapshot["tasks"]] == ["安娜 Anna", "Bo"]
    assert snapshot["batch"]["percent"] == 0.0
    assert update == {"type": "task", "task": update["task"], "batch": update["batch"]}
    assert update["task"]["percent"] == 42.0 and update["task"]["status"] == "running"
    # The batch's summary rides along: the page never derives a rule itself.
    assert update["batch"]["percent"] == 21.0 and update["batch"]["active"] is True
    assert update["batch"]["counts"] == {"queued": 1, "running": 1}
    assert again["type"] == "snapshot" and again["batch"]["percent"] == 21.0


@pytest.mark.parametrize("who", ["outsider_client", "anonymous"])
def test_others_are_refused(batch, who, request):
    from django.test import Client

    client = Client() if who == "anonymous" else request.getfixturevalue(who)

    async def attempt(batch_id):
        # Disconnect even after a refusal: the consumer then ends inside the running loop,
        # instead of being cancelled while async_to_sync shuts its loop down (which can hang
        # in the channel layer's receive).
        comm = _communicator(client, batch_id)
        try:
            return await comm.connect(timeout=20)
        finally:
            await comm.disconnect()

    assert async_to_sync(attempt)(batch.pk) == (False, 4403)
    assert async_to_sync(attempt)(999999) == (False, 4403)


def test_removed_member_stops_getting_updates(batch, member_client, member, monkeypatch):
    from rendering.consumers import BatchProgressConsumer

    monkeypatch.setattr(BatchProgressConsumer, "recheck_s", 0.0)
    task = batch.tasks.first()

    def remove_member_and_publish():
        batch.team.memberships.filter(user=member).delete()
        publish_task(task)

    async def conversation():
        comm = _communicator(member_client, batch.pk)
        connected, _ = await comm.connect(timeout=20)
        assert connected
        await comm.receive_json_from(timeout=20)  # snapshot
        await sync_to_async(publish_task)(task)
        still_member = await comm.receive_json_from(timeout=20)
        await sync_to_async(remove_member_and_publish)()
        closed = await comm.receive_output(timeout=20)
        await comm.disconnect()
        return still_member, closed

    still_member, closed = async_to_sync(conversation)()
    assert still_member["type"] == "task"
    assert closed == {"type": "websocket.close", "code": 4403}
