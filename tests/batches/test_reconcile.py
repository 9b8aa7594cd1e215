"""The reconciler: tasks of dead workers are re-queued or failed; live ones are left alone."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.utils import utcformat

from rendering.models import RenderTask, TaskStatus
from rendering.reconcile import reconcile
from rendering.services import batches as service
from studio.actor import Actor


@pytest.fixture
def running_task(use_redis, library, member, django_capture_on_commit_callbacks):
    """A task that a worker 'ghost' took 2 minutes ago and whose RQ job is in the started
    registry, as after a kill -9."""
    with django_capture_on_commit_callbacks(execute=True):
        batch = service.create_batch(
            Actor.of(member),
            service.BatchSpec(
                project=library.project, audios=[library.hello], presenters=[library.anna]
            ),
        )
    task = batch.tasks.get()
    conn = django_rq.get_connection("gpu")
    queue = django_rq.get_queue("gpu")
    job = queue.fetch_job(task.rq_job_id)
    queue.remove(job)
    job.set_status(JobStatus.STARTED)
    registry = StartedJobRegistry("gpu", connection=conn)
    conn.zadd(registry.key, {f"{job.id}:exec1": 9_999_999_999})
    old = timezone.now() - timedelta(minutes=2)
    RenderTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.RUNNING,
        attempts=1,
        worker_name="ghost",
        started_at=old,
        heartbeat_at=old,
        stage="render",
        percent=40.0,
    )
    task.refresh_from_db()
    return task


def test_dead_worker_task_is_requeued_with_a_new_job(
    running_task, django_capture_on_commit_callbacks
):
    old_job = running_task.rq_job_id
    with django_capture_on_commit_callbacks(execute=True):
        report = reconcile()
    assert report.requeued == [running_task.pk]
    task = RenderTask.objects.get(pk=running_task.pk)
    assert task.status == TaskStatus.QUEUED and task.percent == 0
    assert task.rq_job_id != old_job
    assert (
        "ghost stopped responding" in task.error_message and "attempt 2 of 3" in task.error_message
    )
    conn = django_rq.get_connection("gpu")
    assert task.rq_job_id in django_rq.get_queue("gpu").job_ids
    # The dead run's job is failed in RQ, so RQ's own cleanup will not run it a second time.
    old = Job.fetch(old_job, connection=conn)
    assert old.get_status() == JobStatus.FAILED
    assert old_job in FailedJobRegistry("gpu", connection=conn).get_job_ids()
    assert not conn.zrange(StartedJobRegistry("gpu", connection=conn).key, 0, -1)


def test_dead_worker_task_fails_after_its_last_attempt(running_task):
    RenderTask.objects.filter(pk=running_task.pk).update(attempts=3)
    report = reconcile()
    assert report.failed == [running_task.pk]
    task = RenderTask.objects.get(pk=running_task.pk)
    assert task.status == TaskStatus.FAILED and task.finished_at
    assert (
        "stopped responding" in task.error_message
        and "Gave up after 3 attempts" in task.error_message
    )
    task.batch.refresh_from_db()
    assert task.batch.status == "failed"


def _live_worker(name: str, current_job: str | None) -> None:
    """A worker hash as StudioWorker keeps it: a fresh heartbeat and the job it runs."""
    conn = django_rq.get_connection("gpu")
    conn.hset(f"rq:worker:{name}", "last_heartbeat", utcformat(timezone.now()))
    if current_job:
        conn.hset(f"rq:worker:{name}", "studio_job", current_job)


def test_live_worker_on_the_tasks_job_is_left_alone(running_task):
    """Only the DB write is late: the worker beats and says it runs this very job."""
    _live_worker("ghost", running_task.rq_job_id)
    assert reconcile().requeued == []
    assert RenderTask.objects.get(pk=running_task.pk).status == TaskStatus.RUNNING


def test_live_worker_that_lost_the_run_does_not_keep_the_task(
    running_task, django_capture_on_commit_callbacks
):
    """Issue 9 item 1: the worker lives but its run of this task is gone (the job ended on a
    dropped database connection without writing the task's end; the worker took other work).
    A fresh worker heartbeat must not keep the task "running" forever."""
    _live_worker("ghost", "some-other-job")
    with django_capture_on_commit_callbacks(execute=True):
        report = reconcile()
    assert report.requeued == [running_task.pk]
    task = RenderTask.objects.get(pk=running_task.pk)
    assert task.status == TaskStatus.QUEUED
    assert "interrupted" in task.error_message and "attempt 2 of 3" in task.error_message
    # An idle live worker (no current job) lost it just the same.
    RenderTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.RUNNING,
        worker_name="ghost",
        heartbeat_at=timezone.now() - timedelta(minutes=2),
    )
    _live_worker("ghost", None)
    django_rq.get_connection("gpu").hdel("rq:worker:ghost", "studio_job")
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile().requeued == [task.pk]


def test_a_run_that_makes_no_progress_for_long_is_taken_for_lost(running_task, settings):
    """The worker beats and names the job, but the task has been silent far longer than the
    stale limit (RENDER_HUNG_AFTER_S): the run hangs; the task does not wait for it."""
    settings.RENDER_HUNG_AFTER_S = 90  # the fixture's task has been silent for 120 s
    _live_worker("ghost", running_task.rq_job_id)
    assert reconcile().requeued == [running_task.pk]
    assert "made no progress for" in RenderTask.objects.get(pk=running_task.pk).error_message


def test_fresh_heartbeat_is_left_alone(running_task):
    RenderTask.objects.filter(pk=running_task.pk).update(heartbeat_at=timezone.now())
    report = reconcile()
    assert report.requeued == [] and report.failed == []


def test_cancel_requested_on_dead_worker_ends_cancelled(running_task):
    RenderTask.objects.filter(pk=running_task.pk).update(cancel_requested=True)
    reconcile()
    assert RenderTask.objects.get(pk=running_task.pk).status == TaskStatus.CANCELLED


def test_queued_task_whose_job_vanished_is_enqueued_again(
    use_redis, library, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batch = service.create_batch(
            Actor.of(member),
            service.BatchSpec(
                project=library.project, audios=[library.hello], presenters=[library.bo]
            ),
        )
    task = batch.tasks.get()
    use_redis.client.flushall()  # Redis restarted without persistence
    RenderTask.objects.filter(pk=task.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        report = reconcile()
    assert report.resubmitted == [task.pk]
    assert task.rq_job_id in django_rq.get_queue("gpu").job_ids
