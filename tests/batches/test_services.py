"""Submitting, cancelling and retrying batches (real Redis, no worker)."""

from __future__ import annotations

from pathlib import Path

import django_rq
import pytest
from rq.job import Job, JobStatus

from rendering import lifecycle
from rendering.models import Batch, BatchStatus, RenderTask, TaskStatus
from rendering.services import batches as service
from rendering.services import estimates
from studio.actor import Actor

SYSTEM = Actor.system("tests")


def _spec(library, presenters, audios=None, **kw):
    return service.BatchSpec(
        project=library.project, audios=audios or [library.hello], presenters=presenters, **kw
    )


def test_create_batch_makes_tasks_then_enqueues_after_commit(
    use_redis, library, member, django_capture_on_commit_callbacks
):
    queue = django_rq.get_queue("gpu")
    with django_capture_on_commit_callbacks(execute=True):
        batch = service.create_batch(
            Actor.of(member), _spec(library, [library.anna, library.bo, library.broken])
        )
        assert queue.count == 0, "nothing may be enqueued before the transaction commits"
    tasks = list(batch.tasks.order_by("position"))
    assert [t.presenter_name for t in tasks] == ["安娜 Anna", "Bo", "Broken"]
    assert all(t.status == TaskStatus.QUEUED and t.queued_at for t in tasks)
    # Fair share: the team's first RENDER_QUEUED_PER_TEAM (2) go to RQ, the third waits in
    # the team's backlog until one of them starts.
    assert queue.job_ids == [t.rq_job_id for t in tasks[:2]]
    assert [t.dispatched_at is not None for t in tasks] == [True, True, False]
    job = Job.fetch(tasks[0].rq_job_id, connection=queue.connection)
    # 120 s + 20 x 1.5 s of audio + 5 x 1.6 s of presenter
    assert job.timeout == tasks[0].timeout_s == 158
    assert job.retries_left == 2 and job.retry_intervals == [10, 60]
    assert job.args == (tasks[0].pk,)
    assert batch.status == BatchStatus.QUEUED


def test_matrix_batch_has_one_task_per_pair(
    use_redis, library, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batch = service.create_batch(
            Actor.of(member),
            _spec(library, [library.anna, library.bo], audios=[library.hello, library.long_audio]),
        )
    pairs = set(batch.tasks.values_list("audio_name", "presenter_name"))
    assert pairs == {
        ("问候 Hello", "安娜 Anna"),
        ("问候 Hello", "Bo"),
        ("Long talk", "安娜 Anna"),
        ("Long talk", "Bo"),
    }
    assert django_rq.get_queue("gpu").count == 2
    assert lifecycle.backlog().filter(batch=batch).count() == 2


def test_preview_renders_three_seconds_with_a_short_timeout(
    use_redis, library, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batch = service.create_batch(
            Actor.of(member),
            _spec(library, [library.anna], audios=[library.long_audio], preview=True),
        )
    task = batch.tasks.get()
    assert batch.is_preview and batch.preview_seconds == 3.0
    assert task.timeout_s == 120 + 20 * 3 + 8  # capped at the preview length, not 8 s
    with pytest.raises(service.BatchRefused):
        service.create_batch(
            Actor.of(member), _spec(library, [library.anna, library.bo], preview=True)
        )
    # A preview does not wait behind a big batch: it goes to the front of the queue.
    with django_capture_on_commit_callbacks(execute=True):
        service.create_batch(Actor.of(member), _spec(library, [library.anna, library.bo]))
        second = service.create_batch(Actor.of(member), _spec(library, [library.bo], preview=True))
    assert django_rq.get_queue("gpu").job_ids[0] == second.tasks.get().rq_job_id


def test_low_disk_refuses_with_a_clear_message(use_redis, library, member, settings):
    settings.MIN_FREE_DISK_BYTES = 1 << 60
    with pytest.raises(service.BatchRefused, match="Not enough free disk space"):
        service.create_batch(Actor.of(member), _spec(library, [library.anna]))
    assert not Batch.objects.exists()


def test_inputs_from_elsewhere_or_not_ready_are_refused(use_redis, library, member):
    from studio.models import AudioTrack, MediaStatus, Project

    other = Project.objects.create(team=library.project.team, name="Other")
    stray = AudioTrack.objects.create(
        project=other,
        name="stray",
        file="audio/x.wav",
        original_filename="x.wav",
        status=MediaStatus.READY,
    )
    with pytest.raises(service.BatchRefused, match="neither in this project nor in the audio"):
        service.create_batch(Actor.of(member), _spec(library, [library.anna], audios=[stray]))
    library.bo.status = MediaStatus.PROCESSING
    library.bo.save()
    with pytest.raises(service.BatchRefused, match="still being prepared"):
        service.create_batch(Actor.of(member), _spec(library, [library.bo]))
    with pytest.raises(service.BatchRefused, match="Unknown engine"):
        service.create_batch(Actor.of(member), _spec(library, [library.anna], engine="nope"))


def test_cancel_queued_task_cancels_its_job(
    use_redis, library, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batch = service.create_batch(Actor.of(member), _spec(library, [library.anna, library.bo]))
    first, _second = batch.tasks.order_by("position")
    assert service.cancel_task(SYSTEM, first)
    first.refresh_from_db()
    assert first.status == TaskStatus.CANCELLED and first.finished_at
    conn = django_rq.get_connection("gpu")
    assert Job.fetch(first.rq_job_id, connection=conn).get_status() == JobStatus.CANCELED
    assert first.rq_job_id not in django_rq.get_queue("gpu").job_ids
    assert not service.cancel_task(SYSTEM, first), "already ended"
    assert service.cancel_batch(SYSTEM, batch) == 1
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CANCELLED


def test_cancel_running_task_sets_the_flag_it_polls(
    use_redis, library, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batch = service.create_batch(Actor.of(member), _spec(library, [library.anna]))
    task = batch.tasks.get()
    RenderTask.objects.filter(pk=task.pk).update(status=TaskStatus.RUNNING)
    task.refresh_from_db()
    assert service.cancel_task(SYSTEM, task)
    task.refresh_from_db()
    assert task.status == TaskStatus.RUNNING and task.cancel_requested
    assert django_rq.get_connection("gpu").exists(lifecycle.cancel_key(task.pk))


def test_retry_gives_a_failed_task_a_fresh_job(
    use_redis, library, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batch = service.create_batch(Actor.of(member), _spec(library, [library.anna]))
    task = batch.tasks.get()
    old_job = task.rq_job_id
    RenderTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.FAILED, attempts=3, error="boom", traceback="tb"
    )
    task.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert service.retry_task(SYSTEM, task)
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED and task.attempts == 0 and task.error_message == ""
    assert task.rq_job_id != old_job
    assert task.rq_job_id in django_rq.get_queue("gpu").job_ids
    assert not service.retry_task(SYSTEM, task), "only failed or cancelled tasks"


def test_batch_status_is_derived_from_tasks():
    from rendering.models import derive_batch_status as derive

    assert derive(["queued", "queued"]) == "queued"
    assert derive(["succeeded", "queued"]) == "running"
    assert derive(["running", "failed"]) == "running"
    assert derive(["succeeded", "succeeded"]) == "succeeded"
    assert derive(["succeeded", "failed"]) == "partial"
    assert derive(["failed", "cancelled"]) == "failed"
    assert derive(["cancelled"]) == "cancelled"
    # A cancelled render is a choice, not a failure: it never makes a batch (partly) failed.
    assert derive(["succeeded", "cancelled", "cancelled"]) == "partly_cancelled"
    assert derive(["succeeded", "failed", "cancelled"]) == "partial"


def test_cancelled_renders_read_as_cancelled_in_a_neutral_colour(rf, owner, team):
    """The batch page and its live summary say "Partly cancelled" (both languages) with the
    grey badge, not "Partly failed" in red/amber."""
    from django.utils import translation

    from rendering.models import Batch, BatchStatus
    from rendering.payloads import batch_summary
    from studio.models import Project

    project = Project.objects.create(team=team, name="P")
    batch = Batch.objects.create(team=team, project=project, name="B", engine="warp")
    for i, status in enumerate(["succeeded", "cancelled"]):
        batch.tasks.create(position=i, presenter_name=f"p{i}", audio_name="a", status=status)
    assert batch.refresh_status() == BatchStatus.PARTLY_CANCELLED
    with translation.override("en"):
        assert batch_summary(batch)["status_label"] == "Partly cancelled"
    with translation.override("zh-hans"):
        assert batch_summary(batch)["status_label"] == "部分已取消"
    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "app.css").read_text()
    grey = next(line for line in css.splitlines() if ".badge-cancelled" in line)
    assert ".badge-partly_cancelled" in grey


def test_timeout_scales_with_media_length():
    assert estimates.render_timeout_s(10, 0) == 120 + 200
    assert estimates.render_timeout_s(100, 20) == 120 + 2000 + 100
    assert estimates.render_timeout_s(100, 20, preview_s=3) == 120 + 60 + 100
