"""Redis stopped (killed, as in a crash) and started again in the middle of a batch.

The whole stack runs: a render worker, a cpu worker, the reconciler loop and daphne, on the
durable Redis. During the outage the running render goes on, a cancel takes effect, a new
batch is accepted and says it waits for the queue, and a websocket still gets its snapshot.
Afterwards the same worker processes (not restarted) render the rest, show on the dashboard
again, thumbnails made meanwhile arrive, and a websocket gets its snapshot and live updates.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from rendering.models import Batch, MediaAsset, RenderTask, TaskStatus, ThumbnailStatus
from rendering.services import batches as service
from rendering.services.queue_status import queue_overview
from studio.actor import Actor

from .conftest import FaultStack, part_files, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

FINAL = {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED}


@pytest.fixture(scope="module")
def stack(fault_stack: FaultStack) -> FaultStack:
    fault_stack.spawn_worker("gpu1", "gpu")
    fault_stack.spawn_worker("cpu1", "cpu")
    fault_stack.start_reconciler()
    fault_stack.spawn_web()
    fault_stack.wait_registered("gpu1", "cpu1")
    fault_stack.wait_web()
    return fault_stack


def _websocket(stack: FaultStack, batch_id: int, client):
    return connect(
        stack.url(f"/ws/batches/{batch_id}/").replace("http://", "ws://"),
        additional_headers={
            "Cookie": f"sessionid={client.cookies['sessionid'].value}",
            "Origin": stack.url(""),
        },
        open_timeout=20,
    )


def _row(pk: int) -> RenderTask:
    return RenderTask.objects.get(pk=pk)


def test_redis_restart_mid_batch(stack, library, member, member_client):
    pids = {name: stack.procs[name].pid for name in ("gpu1", "cpu1")}
    actor = Actor.of(member)
    batch = service.create_batch(
        actor,
        service.BatchSpec(
            project=library.project,
            audios=[library.long_audio],
            presenters=[library.long_presenter],
        ),
    )
    waiting_batch = service.create_batch(
        actor,
        service.BatchSpec(
            project=library.project, audios=[library.hello], presenters=[library.anna]
        ),
    )
    first, second = batch.tasks.get(), waiting_batch.tasks.get()
    wait_for(
        lambda: _row(first.pk).status == "running" and _row(first.pk).percent > 12,
        180,
        "the first render to get going",
        stack,
    )
    # SIGKILL: a crash. What Redis acknowledged is in its append-only file (written before each
    # reply, fsynced every second: only a crash of the whole machine could lose the last second).
    stack.stop_redis(kill=True)
    outage_at = timezone.now()
    assert _row(first.pk).status == TaskStatus.RUNNING, "Redis went away in the middle of it"

    # The render goes on without Redis to its end (progress and the end reach the database;
    # RQ's bookkeeping of the job is given up), and its worker stays up.
    done = wait_for(
        lambda: (lambda r: r if r.status in FINAL else None)(_row(first.pk)),
        120,
        "the render to end during the outage",
        stack,
    )
    assert done.status == TaskStatus.SUCCEEDED and done.attempts == 1, stack.logs()
    assert done.error is None and done.finished_at > outage_at
    assert stack.alive("gpu1")
    # Cancel answers normally and takes effect (the database flag is the truth).
    response = member_client.post(reverse("task_cancel", args=[second.pk]))
    assert response.status_code == 302
    assert _row(second.pk).status == TaskStatus.CANCELLED
    # A new batch is accepted, and its page says it starts when the queue is back.
    response = member_client.post(
        reverse("batch_create"),
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenter": [library.bo.pk],
            "engine": "warp",
            "quality": "standard",
        },
    )
    assert response.status_code == 302
    later = Batch.objects.exclude(pk__in=[batch.pk, waiting_batch.pk]).get()
    page = member_client.get(later.get_absolute_url()).content.decode()
    assert 'data-testid="queue-away"' in page and "no need to submit them again" in page
    assert later.tasks.get().dispatched_at is None, "it waits in its team's backlog"
    # A websocket connecting now still gets its snapshot (no 500), then "try again later".
    with _websocket(stack, batch.pk, member_client) as ws:
        snapshot = json.loads(ws.recv(timeout=20))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=20)
    assert snapshot["type"] == "snapshot" and len(snapshot["tasks"]) == 1
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4503

    stack.start_redis()

    # The batch made during the outage is handed over and rendered by the same worker.
    with _websocket(stack, later.pk, member_client) as ws:
        snapshot = json.loads(ws.recv(timeout=20))
        assert snapshot["type"] == "snapshot"
        statuses = {t["id"]: t["status"] for t in snapshot["tasks"]}
        deadline = time.monotonic() + 120
        while not set(statuses.values()) <= FINAL and time.monotonic() < deadline:
            try:
                message = json.loads(ws.recv(timeout=120))
            except TimeoutError:
                pytest.fail(f"no live update after the restart: {statuses}\n{stack.logs()}")
            if message["type"] == "task":
                statuses[message["task"]["id"]] = message["task"]["status"]
            elif message["type"] == "snapshot":
                statuses.update({t["id"]: t["status"] for t in message["tasks"]})
    assert set(statuses.values()) == {"succeeded"}, stack.logs()
    redone = later.tasks.get()
    assert redone.worker_name == "gpu1" and redone.attempts == 1
    # The workers were never restarted, and the dashboard lists them again.
    assert {name: stack.procs[name].pid for name in pids} == pids
    assert stack.alive("gpu1") and stack.alive("cpu1")
    _queues, _workers, error = wait_for(
        lambda: (lambda o: o if {"gpu1", "cpu1"} <= {w.name for w in o[1]} else None)(
            queue_overview()
        ),
        30,
        "both workers on the dashboard",
        stack,
    )
    assert error is None
    # The thumbnail queued while Redis was away arrives too; no part file anywhere.
    wait_for(
        lambda: not MediaAsset.objects.exclude(thumbnail_status=ThumbnailStatus.READY).exists(),
        60,
        "every thumbnail",
        stack,
    )
    assert MediaAsset.objects.count() == 2  # the long render's and the later batch's
    assert redone.finished_at > outage_at
    assert part_files(Path(stack.media)) == []
