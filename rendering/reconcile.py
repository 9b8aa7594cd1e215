"""The reconciler: no task stays "running" (or "queued") forever.

A render proves it is alive by its heartbeat: the task row's ``heartbeat_at`` (written from the
progress callback) and its worker's ``last_heartbeat`` in Redis. When both are older than
``RENDER_STALE_AFTER_S`` the worker is taken for dead (killed, out of memory, machine lost):
its RQ job is failed in RQ's registries (so RQ's own abandoned-job handling does not run it a
second time) and the task is re-queued with a fresh job if it has attempts left, else failed
with a readable reason.

A queued task whose RQ job has vanished (Redis flushed or restarted without persistence) or
ended without the task hearing of it is enqueued again.

Workers run :func:`reconcile` between jobs (see :mod:`rendering.worker`);
``manage.py reconcile_tasks`` runs it by hand or in a loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.job_lifecycle import record_job_failure
from rq.registry import StartedJobRegistry
from rq.utils import utcparse

from studio import queues
from studio.notices import Notice, notice
from studio.queues import QueueName

from . import lifecycle
from .models import RenderTask, TaskStatus

log = logging.getLogger("rendering.reconcile")


@dataclass
class ReconcileReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resubmitted: list[int] = field(default_factory=list)
    dispatched: list[int] = field(default_factory=list)
    quality_failed: list[int] = field(default_factory=list)


def worker_last_heartbeat(connection: Redis, worker_name: str) -> datetime | None:
    """The worker's last heartbeat from its Redis hash, None if the hash is gone."""
    if not worker_name:
        return None
    raw = connection.hget(f"rq:worker:{worker_name}", "last_heartbeat")
    if not raw:
        return None
    parsed = utcparse(raw.decode() if isinstance(raw, bytes) else raw)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def fail_rq_job(connection: Redis, job_id: str, reason: str) -> None:
    """Move a job whose worker died out of the started registry into the failed one."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return
    registry = StartedJobRegistry(job.origin, connection=connection)
    with connection.pipeline() as pipeline:
        members: list[bytes | str] = list(connection.zrange(registry.key, 0, -1))  # type: ignore[arg-type]
        for member in members:
            text = member.decode() if isinstance(member, bytes) else member
            if text.split(":", 1)[0] == job_id:
                pipeline.zrem(registry.key, member)
        if job.get_status(refresh=False) not in (JobStatus.FINISHED, JobStatus.FAILED):
            job.retries_left = 0
            record_job_failure(job, reason, pipeline)
        pipeline.execute()


def _dead_reason(task: RenderTask) -> Notice:
    return notice(
        "worker_lost",
        gettext_noop(
            "The worker %(worker)s stopped responding while rendering (stage: %(stage)s)."
        ),
        worker=task.worker_name or "?",
        stage=task.stage or "start",
    )


def reconcile(
    connection: Redis | None = None,
    now: datetime | None = None,
    stale_after_s: float | None = None,
) -> ReconcileReport:
    """One pass over running and queued tasks; returns what it changed."""
    now = now or timezone.now()
    stale = timedelta(
        seconds=stale_after_s if stale_after_s is not None else settings.RENDER_STALE_AFTER_S
    )
    cutoff = now - stale
    connection = connection or queues.connection(QueueName.GPU)
    report = ReconcileReport()

    candidates = RenderTask.objects.filter(status=TaskStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    for task in candidates.select_related("batch"):
        beat = worker_last_heartbeat(connection, task.worker_name)
        if beat is not None and beat >= cutoff:
            continue  # the worker is alive; the DB write was only late
        reason = _dead_reason(task)
        log.warning("task %s: %s", task.pk, reason.message)
        fail_rq_job(connection, task.rq_job_id, reason.message)
        if task.cancel_requested:
            if lifecycle.cancelled(task, task.rq_job_id):
                report.failed.append(task.pk)
        elif task.attempts < task.max_attempts:
            note = notice(
                "requeued",
                gettext_noop("%(reason)s Started again (attempt %(next)d of %(max)d)."),
                reason=reason,
                next=task.attempts + 1,
                max=task.max_attempts,
            )
            if lifecycle.requeue(task, note=note):
                report.requeued.append(task.pk)
        else:
            gave_up = notice(
                "gave_up",
                gettext_noop("%(reason)s Gave up after %(n)d attempts."),
                reason=reason,
                n=task.attempts,
            )
            if lifecycle.fail(task, task.rq_job_id, gave_up):
                report.failed.append(task.pk)

    lost_after = now - timedelta(seconds=settings.RECONCILE_LOST_QUEUED_S)
    # Only tasks already handed to RQ: the others wait in their team's backlog on purpose.
    for task in RenderTask.objects.filter(
        status=TaskStatus.QUEUED,
        queued_at__lt=lost_after,
        cancel_requested=False,
        dispatched_at__isnull=False,
    ).select_related("batch"):
        try:
            job = Job.fetch(task.rq_job_id, connection=connection)
            status = job.get_status()
        except NoSuchJobError:
            job, status = None, None
        if status is None:
            log.warning(
                "task %s: its job %s is gone from Redis; enqueueing again",
                task.pk,
                task.rq_job_id,
            )
            lifecycle.enqueue(task)
            report.resubmitted.append(task.pk)
        elif status in (
            JobStatus.FAILED,
            JobStatus.STOPPED,
            JobStatus.CANCELED,
            JobStatus.FINISHED,
        ):
            # The job ended without ever taking the task (e.g. it could not even start).
            reason = notice(
                "job_ended",
                gettext_noop("The render job ended (%(status)s) before it could start."),
                status=str(status),
            )
            traceback = (job.exc_info if job is not None else "") or ""
            if lifecycle.fail_queued(task, task.rq_job_id, reason, traceback):
                report.failed.append(task.pk)
    # Backlogs move on even when no start or end triggered the scheduler (Redis was down).
    report.dispatched = lifecycle.dispatch()
    # Quality checks whose job was lost end as failed (they never keep a video "pending").
    from .services.quality import settle_lost

    report.quality_failed = settle_lost(connection, now)
    return report
