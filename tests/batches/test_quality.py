"""The quality score on the studio side: stored after each render, shown as a badge on the
batch page and in the media library, the "needs review" filter, quality.csv in every zip, the
API's fields; a failed or lost check never fails the render and never stays pending."""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import zipfile
from datetime import timedelta

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone
from rq.job import Job, JobStatus

from rendering import jobs
from rendering.models import MediaAsset, RenderTask, TaskStatus
from rendering.services import batches as service
from rendering.services import quality
from studio.actor import Actor
from tests.api.client import ApiClient, new_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(use_redis, library, member, media_root, clip_files):
    """A batch of two finished renders (Anna: a real warp render with speech; Bo: a copy of
    the presenter clip, which has no sound) and a preview."""
    from lipsync.engines.warp import WarpEngine

    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project,
            audios=[library.hello],
            presenters=[library.anna, library.bo],
            name="Launch 发布",
        ),
    )
    engine = WarpEngine(cache_dir=media_root / "tracks")
    assets = []
    for task, presenter in zip(batch.tasks.order_by("position"), [library.anna, library.bo]):
        rel = f"outputs/{batch.team_id}/{batch.pk}/{task.pk}.mp4"
        os.makedirs(os.path.dirname(media_root / rel), exist_ok=True)
        src = media_root / presenter.file.name
        if presenter == library.anna:
            engine.render(clip_files.hello, src, engine.prepare(src), media_root / rel)
        else:
            shutil.copy(src, media_root / rel)
        asset = MediaAsset.objects.create(
            team=batch.team,
            project=batch.project,
            batch=batch,
            task=task,
            presenter=presenter,
            audio=library.hello,
            title=str(task),
            download_name=f"{task.presenter_name}__{task.audio_name}.mp4",
            file=rel,
            size_bytes=(media_root / rel).stat().st_size,
            duration_s=1.5,
            width=320,
            height=240,
            created_by=member,
        )
        RenderTask.objects.filter(pk=task.pk).update(
            status=TaskStatus.SUCCEEDED, output=asset, percent=100
        )
        assets.append(asset)
    batch.refresh_status()
    batch.anna, batch.bo = assets
    return batch


def test_the_check_stores_a_score_and_a_failed_check_a_reference(batch, caplog):
    caplog.set_level(logging.ERROR, logger="rendering.quality")
    assert quality.check(batch.anna.pk) is not None
    anna = MediaAsset.objects.get(pk=batch.anna.pk)
    assert anna.quality_checked_at and anna.quality_error is None
    assert anna.quality_score == anna.quality_details["score"]
    assert {"sync", "face_share", "sharpness", "frames_measured"} <= set(anna.quality_details)
    # Bo's "render" has no sound: the check fails, the video stays a success.
    assert quality.check(batch.bo.pk) is None
    bo = MediaAsset.objects.get(pk=batch.bo.pk)
    assert bo.quality_score is None and bo.quality_checked_at
    assert bo.quality_error.code == "internal"
    ref = bo.quality_error.params["ref"]
    assert f"reference {ref}" in caplog.text and "Traceback" in caplog.text
    assert bo.quality_state == "failed" and bo.needs_review
    assert RenderTask.objects.get(output=bo).status == TaskStatus.SUCCEEDED


def test_previews_are_not_checked(batch, use_redis, django_capture_on_commit_callbacks):
    MediaAsset.objects.filter(pk=batch.anna.pk).update(is_preview=True)
    asset = MediaAsset.objects.get(pk=batch.anna.pk)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue_quality_check(asset)
        jobs.enqueue_quality_check(batch.bo)
    connection = use_redis.client
    asset.refresh_from_db()
    bo = MediaAsset.objects.get(pk=batch.bo.pk)
    assert asset.quality_job_id == "" and asset.quality_attempts == 0
    assert bo.quality_attempts == 1 and bo.quality_queued_at is not None
    assert Job.exists(bo.quality_job_id, connection=connection)
    assert asset.quality_state == "none" and not asset.needs_review


def _started_on_a_dead_worker(asset: MediaAsset) -> None:
    """The check's job as RQ leaves it when its worker is killed mid-run."""
    from rq.registry import StartedJobRegistry

    conn = django_rq.get_connection("cpu")
    queue = django_rq.get_queue("cpu")
    job = queue.fetch_job(asset.quality_job_id)
    queue.remove(job)
    job.set_status(JobStatus.STARTED)
    job.worker_name = "ghost"
    job.save()
    conn.zadd(StartedJobRegistry("cpu", connection=conn).key, {f"{job.id}:x": 9_999_999_999})


def test_a_lost_check_is_sent_again_then_ended(
    batch, use_redis, django_capture_on_commit_callbacks, settings
):
    """The thumbnails' rule (studio.recovery): a check whose job is waiting is left alone; a
    job that is missing or whose worker died is sent again, at most CHECK_MAX_ATTEMPTS runs in
    all, then the check ends without a score and with a reason; never pending for good."""
    from django_rq import get_connection

    from rendering.reconcile import reconcile

    connection = get_connection("cpu")
    queue = django_rq.get_queue("cpu")
    assert settings.CHECK_MAX_ATTEMPTS == 2
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue_quality_check(batch.anna)  # queued, no worker yet: left alone
    # Bo's check was never queued (Redis was away when its render ended): sent now.
    later = timezone.now() + timedelta(seconds=settings.RECONCILE_LOST_QUEUED_S + 5)
    with django_capture_on_commit_callbacks(execute=True):
        report = reconcile(connection, now=later)
    assert report.quality_requeued == [batch.bo.pk] and report.quality_failed == []
    bo = MediaAsset.objects.get(pk=batch.bo.pk)
    assert bo.quality_attempts == 1 and bo.quality_job_id in queue.job_ids
    assert bo.quality_state == "pending"
    # Its worker dies mid-run: sent again (the dead job is failed in RQ's registries).
    _started_on_a_dead_worker(bo)
    dead_job = bo.quality_job_id
    later += timedelta(seconds=settings.RECONCILE_LOST_QUEUED_S + 5)
    with django_capture_on_commit_callbacks(execute=True):
        report = reconcile(connection, now=later)
    assert report.quality_requeued == [batch.bo.pk]
    bo.refresh_from_db()
    assert bo.quality_attempts == 2 and bo.quality_job_id != dead_job
    assert Job.fetch(dead_job, connection=connection).get_status() == JobStatus.FAILED
    # The second run is lost too (Redis flushed): ended with a reason, and it needs review.
    connection.delete(f"rq:job:{bo.quality_job_id}")
    later += timedelta(seconds=settings.RECONCILE_LOST_QUEUED_S + 5)
    report = reconcile(connection, now=later)
    assert report.quality_failed == [batch.bo.pk] and report.quality_requeued == []
    bo.refresh_from_db()
    assert bo.quality_state == "failed" and bo.needs_review
    assert bo.quality_error.code == "quality_lost" and bo.quality_error.params["n"] == 2
    assert "stopped 2 times" in bo.quality_error_text
    assert MediaAsset.objects.get(pk=batch.anna.pk).quality_state == "pending"
    # An ended check is left alone by later rounds.
    report = reconcile(connection, now=later)
    assert report.quality_failed == [] and report.quality_requeued == []


def test_only_the_current_job_of_a_check_writes(
    batch, use_redis, django_capture_on_commit_callbacks
):
    """A run whose job the reconciler replaced (no longer the video's ``quality_job_id``) does
    nothing; the run of the current job stores the score."""
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue_quality_check(batch.anna)
    anna = MediaAsset.objects.get(pk=batch.anna.pk)
    connection = django_rq.get_connection("cpu")
    stale = Job.create(jobs.check_quality, args=(anna.pk,), id="stale", connection=connection)
    assert stale.perform() is None
    assert MediaAsset.objects.get(pk=anna.pk).quality_state == "pending"
    current = Job.fetch(anna.quality_job_id, connection=connection)
    assert current.perform() is not None
    anna.refresh_from_db()
    assert anna.quality_score is not None and anna.quality_state in ("ok", "review")


def _score(asset, score, sync=0.7):
    MediaAsset.objects.filter(pk=asset.pk).update(
        quality_score=score,
        quality_details={
            "score": score,
            "sync": sync,
            "face_share": 1.0,
            "sharpness": 0.9,
            "frames_measured": 40,
        },
        quality_checked_at=timezone.now(),
    )


def test_every_zip_holds_quality_csv(batch, member_client):
    _score(batch.anna, 87)
    _score(batch.bo, 31, sync=0.2)
    response = member_client.get(reverse("batch_zip", args=[batch.pk]))
    data = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(data)
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert names == ["安娜 Anna__问候 Hello.mp4", "Bo__问候 Hello.mp4", "quality.csv"]
    assert archive.testzip() is None
    text = archive.read("quality.csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["file"] for r in rows] == names[:2]
    assert [r["quality_score"] for r in rows] == ["87", "31"]
    assert [r["verdict"] for r in rows] == ["ok", "check"]
    assert rows[0]["presenter"] == "安娜 Anna" and rows[0]["lip_sync"] == "0.700"
    # A selection zip too, with its own names; a pending check is said so.
    MediaAsset.objects.filter(pk=batch.bo.pk).update(
        quality_score=None, quality_checked_at=None, download_name="same.mp4"
    )
    MediaAsset.objects.filter(pk=batch.anna.pk).update(download_name="same.mp4")
    response = member_client.post(reverse("media_zip"), {"id": [batch.anna.pk, batch.bo.pk]})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(csv.DictReader(io.StringIO(archive.read("quality.csv").decode("utf-8-sig"))))
    assert {r["file"]: r["verdict"] for r in rows} == {"same.mp4": "ok", "same (2).mp4": "pending"}


def test_badges_and_the_needs_review_filter(batch, member_client):
    _score(batch.anna, 87)
    _score(batch.bo, 31)
    page = member_client.get(reverse("media_library")).content.decode()
    assert page.count('data-testid="quality-badge"') == 2
    assert "Quality 87" in page and "Check this one (31)" in page
    review = member_client.get(reverse("media_library"), {"review": "1"}).content.decode()
    assert review.count('data-testid="media-card"') == 1 and "Check this one (31)" in review
    zh = member_client.get(
        reverse("media_library"), {"review": "1"}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    assert "Check this one" not in zh and zh.count('data-testid="media-card"') == 1
    assert "需要复查" in zh
    # A failed check needs review too; nothing left to review says so.
    MediaAsset.objects.filter(pk=batch.bo.pk).update(quality_score=None)
    review = member_client.get(reverse("media_library"), {"review": "1"}).content.decode()
    assert review.count('data-testid="media-card"') == 1 and "Quality not measured" in review
    _score(batch.bo, 90)
    review = member_client.get(reverse("media_library"), {"review": "1"}).content.decode()
    assert 'data-testid="media-empty"' in review and "No video needs review" in review
    # The batch page's rows and its snapshot carry the same.
    _score(batch.bo, 12)
    page = member_client.get(reverse("batch_detail", args=[batch.pk])).content.decode()
    assert "Quality 87" in page and "Check this one (12)" in page
    snap = member_client.get(reverse("batch_status", args=[batch.pk])).json()
    states = [(t["output"]["quality_state"], t["output"]["quality_score"]) for t in snap["tasks"]]
    assert states == [("ok", 87), ("review", 12)]
    detail = member_client.get(reverse("media_detail", args=[batch.anna.pk])).content.decode()
    assert "lip sync 0.70" in detail


def test_api_results_carry_the_score_and_filter_by_review(batch, member, team):
    member_api = ApiClient(new_token(member, team)[1])
    _score(batch.anna, 87)
    _score(batch.bo, 31, sync=0.2)
    results = member_api.get("/api/v1/results/", {"batch": batch.pk}).json()["results"]
    by_id = {r["id"]: r for r in results}
    assert by_id[batch.anna.pk]["quality"] == 87.0
    assert by_id[batch.anna.pk]["quality_state"] == "ok"
    assert by_id[batch.bo.pk]["needs_review"] is True
    assert by_id[batch.bo.pk]["quality_measures"]["sync"] == 0.2
    flagged = member_api.get("/api/v1/results/", {"needs_review": "true"}).json()["results"]
    assert [r["id"] for r in flagged] == [batch.bo.pk]
