"""The render side when Redis is away, and the recovery of thumbnails and part files.

"Redis away" is the real thing: the queues point at a port where nothing listens (the suite's
default), or at the private server for the parts that need it back.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import django_rq
import pytest
import redis
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rendering import lifecycle
from rendering.jobs import _CancelPoll, make_thumbnail
from rendering.models import MediaAsset, RenderTask, TaskStatus, ThumbnailStatus
from rendering.reconcile import reconcile, remove_part_files, sweep_part_files
from rendering.services import batches as service
from studio.actor import Actor

pytestmark = pytest.mark.django_db(transaction=True)

DEAD = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)


def _batch(member, library, presenters=None, audio=None):
    return service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project,
            audios=[audio or library.hello],
            presenters=presenters or [library.anna],
        ),
    )


# --- Redis away -------------------------------------------------------------------------------


def test_a_batch_made_while_redis_is_away_waits_and_says_so(
    library, member_client, settings, redis_server
):
    """Issue 9 item 6: the batch is kept (no 500, no need to submit twice); the page says it
    starts when the queue is back; once Redis answers, the scheduler hands it over."""
    form = {
        "project": library.project.pk,
        "audio": [library.hello.pk],
        "presenter": [library.anna.pk, library.bo.pk],
        "engine": "warp",
        "quality": "standard",
    }
    response = member_client.post(reverse("batch_create"), form)
    assert response.status_code == 302
    batch = library.project.batches.get()
    page = member_client.get(batch.get_absolute_url()).content.decode()
    assert 'data-testid="queue-away"' in page and "no need to submit them again" in page
    zh = member_client.get(batch.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "无需重新提交" in zh.content.decode()
    assert not batch.tasks.exclude(dispatched_at=None).exists(), "they wait in the backlog"
    preview = member_client.post(
        reverse("batch_preview"),
        {**form, "presenter": [library.bo.pk]},
        HTTP_ACCEPT="application/json",
    )
    assert preview.status_code == 201 and preview.json()["queue_unavailable"] is True

    from tests.conftest import _redis_settings

    redis_server.client.flushall()
    for key, value in _redis_settings(redis_server.url, True).items():
        setattr(settings, key, value)
    assert reconcile().dispatched, "the scheduler hands the backlog over (fair share)"
    sent = RenderTask.objects.exclude(dispatched_at=None)
    assert sent.count() == 2  # the preview (it skips the per-team limit) and the batch's first
    assert set(sent.values_list("rq_job_id", flat=True)) <= set(django_rq.get_queue("gpu").job_ids)
    page = member_client.get(batch.get_absolute_url()).content.decode()
    assert 'data-testid="queue-away"' not in page


def test_cancel_while_redis_is_away_takes_effect(library, member, member_client, use_redis):
    batch = _batch(member, library, presenters=[library.anna, library.bo])
    running, waiting = batch.tasks.order_by("position")
    RenderTask.objects.filter(pk=running.pk).update(
        status=TaskStatus.RUNNING, worker_name="w", started_at=timezone.now()
    )
    from django.conf import settings

    from tests.conftest import DEAD_REDIS_URL, _redis_settings

    for key, value in _redis_settings(DEAD_REDIS_URL, True).items():
        setattr(settings, key, value)
    for task in (running, waiting):
        response = member_client.post(reverse("task_cancel", args=[task.pk]))
        assert response.status_code == 302, "answered, not a 500"
    assert RenderTask.objects.get(pk=waiting.pk).status == TaskStatus.CANCELLED
    row = RenderTask.objects.get(pk=running.pk)
    assert row.cancel_requested and row.status == TaskStatus.RUNNING
    # The running render learns it from the database: its cancel poll, and its next write.
    assert _CancelPoll(running.pk, DEAD, interval=0)() is True
    assert not lifecycle.record_progress(running.pk, running.rq_job_id, percent=50.0)


def test_a_websocket_connect_while_redis_is_away_gets_the_snapshot(library, member, settings):
    """The snapshot comes from the database; the page is told to try again later (4503)
    instead of an error."""
    batch = _batch(member, library)
    client = Client()
    client.force_login(member)
    from heygem_site.asgi import application

    async def attempt():
        comm = WebsocketCommunicator(
            application,
            f"/ws/batches/{batch.pk}/",
            headers=[
                (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
                (b"origin", b"http://localhost"),
            ],
        )
        accepted, _ = await comm.connect(timeout=20)
        first = await comm.receive_json_from(timeout=20)
        closed = await comm.receive_output(timeout=20)
        await comm.wait()
        return accepted, first, closed

    accepted, first, closed = async_to_sync(attempt)()
    assert accepted and first["type"] == "snapshot" and len(first["tasks"]) == 1
    assert closed == {"type": "websocket.close", "code": 4503}


# --- thumbnails -------------------------------------------------------------------------------


def _asset(batch, media_root, **fields) -> MediaAsset:
    task = batch.tasks.first()
    rel = f"outputs/{batch.team_id}/{batch.pk}/{task.pk}.mp4"
    (media_root / rel).parent.mkdir(parents=True, exist_ok=True)
    (media_root / rel).write_bytes(b"not a video at all")
    return MediaAsset.objects.create(
        team=batch.team, batch=batch, task=task, title="t", download_name="t.mp4", file=rel,
        **fields,
    )  # fmt: skip


def test_a_lost_thumbnail_job_is_sent_again_then_given_up(
    library, member, media_root, use_redis, settings
):
    """Issue 9, every job: an output whose thumbnail job vanished (Redis restarted, worker
    killed) does not stay "pending"."""
    batch = _batch(member, library)
    old = timezone.now() - timedelta(seconds=settings.RECONCILE_LOST_QUEUED_S + 5)
    asset = _asset(
        batch,
        media_root,
        thumbnail_status=ThumbnailStatus.PENDING,
        thumbnail_job_id="vanished",
        thumbnail_queued_at=old,
        thumbnail_attempts=1,
    )
    report = reconcile()
    assert report.thumbnails_requeued == [asset.pk]
    asset.refresh_from_db()
    assert asset.thumbnail_attempts == 2
    assert asset.thumbnail_job_id in django_rq.get_queue("cpu").job_ids
    use_redis.client.flushall()
    MediaAsset.objects.filter(pk=asset.pk).update(thumbnail_queued_at=old)
    assert reconcile().thumbnails_failed == [asset.pk]
    assert MediaAsset.objects.get(pk=asset.pk).thumbnail_status == ThumbnailStatus.FAILED


def test_a_thumbnail_job_always_ends_its_row(library, member, media_root):
    batch = _batch(member, library)
    asset = _asset(batch, media_root, thumbnail_status=ThumbnailStatus.PENDING)
    assert make_thumbnail(asset.pk) is None
    assert MediaAsset.objects.get(pk=asset.pk).thumbnail_status == ThumbnailStatus.FAILED


# --- part files -------------------------------------------------------------------------------


def _part(folder: Path, task_id: int, age_s: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{task_id}-0123abcd.mp4.0123456789ab.part.mp4"
    path.write_bytes(b"half a video")
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return path


def test_part_files_of_runs_that_are_over_are_swept(library, member, media_root):
    """Issue 9 item 11: a render killed while encoding left its hidden part file until the
    hourly cleanup. The sweep (worker start, reconciler start) removes those whose run is
    over and keeps the one a running render is writing."""
    batch = _batch(member, library, presenters=[library.anna, library.bo, library.long_presenter])
    ended, running, restarted = batch.tasks.order_by("position")
    now = timezone.now()
    RenderTask.objects.filter(pk=ended.pk).update(status=TaskStatus.FAILED)
    RenderTask.objects.filter(pk__in=[running.pk, restarted.pk]).update(
        status=TaskStatus.RUNNING, started_at=now - timedelta(seconds=30)
    )
    folder = media_root / "outputs" / str(batch.team_id) / str(batch.pk)
    gone = _part(folder, ended.pk)
    kept = _part(folder, running.pk)
    earlier_run = _part(folder, restarted.pk, age_s=120)  # written before its task restarted
    unrelated = folder / "notes.txt"
    unrelated.write_text("x")
    assert sweep_part_files() == 2
    assert kept.exists() and unrelated.exists()
    assert not gone.exists() and not earlier_run.exists()
    # Once the reconciler takes a run for lost, its file goes at once.
    assert remove_part_files(RenderTask.objects.get(pk=running.pk)) == 1 and not kept.exists()
