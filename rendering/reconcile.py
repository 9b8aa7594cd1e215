"""The render side's reconciler: no task stays "running" or "queued", no thumbnail "pending"
and no hidden part file stays behind, whatever happened to the worker, Redis or the database.

**A running task is lost** (its run can no longer end it) when its own heartbeat (the row's
``heartbeat_at``, written with its progress) is older than ``RENDER_STALE_AFTER_S`` and one of:

* its worker is silent: no worker heartbeat for ``WORKER_STALE_AFTER_S`` (killed, out of
  memory, machine lost);
* its worker is alive but is not running this task's job (the run was lost while the process
  lived: its database connection dropped and the end could not be written, so the worker went
  on to other work); the worker names its current job in Redis (:mod:`studio.recovery`);
* its worker is alive and on this job, but the task has made no progress for
  ``RENDER_HUNG_AFTER_S`` (the run hangs; RQ's time limit ends the job later).

A late database write alone (worker alive, on this job, task silent for less than
``RENDER_HUNG_AFTER_S``) is not a loss. A lost task's RQ job is failed in RQ's registries (so
RQ's abandoned-job handling does not run it a second time), the hidden part file of its run is
deleted, and the task is re-queued with a fresh job if it has attempts left, else failed with
a readable reason (cancelled if someone had asked for that). Bound: a lost run is noticed
within ``RENDER_STALE_AFTER_S`` + ``RECONCILE_INTERVAL_S`` (hung: ``RENDER_HUNG_AFTER_S`` +
``RECONCILE_INTERVAL_S``).

**A queued task handed to RQ** whose job vanished from Redis, or whose job was started but is
run by no live worker, for ``RECONCILE_LOST_QUEUED_S`` is sent again; one whose job ended
without taking it is failed. Tasks in a team's backlog are handed over by
:func:`rendering.lifecycle.dispatch` (also after a Redis outage).

**Thumbnails** of outputs (``MediaAsset.thumbnail_status`` pending) whose job is missing,
dead or ended for ``RECONCILE_LOST_QUEUED_S`` are queued again, at most
``CHECK_MAX_ATTEMPTS`` times in all, then marked failed (the page shows the placeholder).

**Part files** (``.<task>-….part.mp4``, what the encoder writes before the final rename) of a
run that is not running any more are deleted when the reconciler takes its task for lost,
and by :func:`sweep_part_files` when a render worker or the reconciler loop starts.

Workers run every registered reconciler between jobs (:mod:`rendering.worker`);
``manage.py reconcile_tasks`` runs them by hand or in a loop.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

from studio import queues
from studio.notices import Notice, notice
from studio.queues import QueueName
from studio.recovery import JobState, fail_rq_job, job_state, worker_beat

from . import lifecycle
from .models import MediaAsset, RenderTask, TaskStatus, ThumbnailStatus

log = logging.getLogger("rendering.reconcile")


@dataclass
class ReconcileReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resubmitted: list[int] = field(default_factory=list)
    dispatched: list[int] = field(default_factory=list)
    thumbnails_requeued: list[int] = field(default_factory=list)
    thumbnails_failed: list[int] = field(default_factory=list)
    part_files_removed: list[int] = field(default_factory=list)


def worker_last_heartbeat(connection: Redis, worker_name: str) -> datetime | None:
    """The worker's last heartbeat from its Redis hash, None if the hash is gone."""
    return worker_beat(connection, worker_name)[0]


def _lost_reason(
    task: RenderTask, connection: Redis, now: datetime, hung_cutoff: datetime
) -> Notice | None:
    """Why the run of a silent running task is lost, None while it lives (module rule)."""
    beat, current = worker_beat(connection, task.worker_name)
    worker_alive = beat is not None and beat >= now - timedelta(
        seconds=settings.WORKER_STALE_AFTER_S
    )
    params = {"worker": task.worker_name or "?", "stage": task.stage or "start"}
    if not worker_alive:
        return notice(
            "worker_lost",
            gettext_noop(
                "The worker %(worker)s stopped responding while rendering (stage: %(stage)s)."
            ),
            **params,
        )
    if current != task.rq_job_id:
        return notice(
            "run_lost",
            gettext_noop(
                "The render on %(worker)s was interrupted and could not report it "
                "(stage: %(stage)s)."
            ),
            **params,
        )
    last = task.heartbeat_at or task.started_at
    if last is not None and last < hung_cutoff:
        return notice(
            "run_hung",
            gettext_noop(
                "The render on %(worker)s made no progress for %(s)d seconds (stage: %(stage)s)."
            ),
            s=int((now - last).total_seconds()),
            **params,
        )
    return None


def reconcile(
    connection: Redis | None = None,
    now: datetime | None = None,
    stale_after_s: float | None = None,
) -> ReconcileReport:
    """One pass over running and queued tasks, thumbnails and part files; returns what it
    changed."""
    now = now or timezone.now()
    stale = timedelta(
        seconds=stale_after_s if stale_after_s is not None else settings.RENDER_STALE_AFTER_S
    )
    cutoff = now - stale
    hung_cutoff = now - timedelta(seconds=settings.RENDER_HUNG_AFTER_S)
    connection = connection or queues.connection(QueueName.GPU)
    report = ReconcileReport()

    candidates = RenderTask.objects.filter(status=TaskStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    for task in candidates.select_related("batch"):
        reason = _lost_reason(task, connection, now, hung_cutoff)
        if reason is None:
            continue  # the worker runs it; the DB write was only late
        log.warning("task %s: %s", task.pk, reason.message)
        fail_rq_job(connection, task.rq_job_id, reason.message)
        report.part_files_removed += [task.pk] * remove_part_files(task)
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
        state = job_state(connection, task.rq_job_id, now)
        if state in (JobState.MISSING, JobState.DEAD):
            # Gone from Redis, or taken by a run that ended without RQ hearing of it (Redis
            # was away when the run tried to record a retry).
            log.warning(
                "task %s: its job %s is %s; enqueueing again", task.pk, task.rq_job_id, state
            )
            if state == JobState.DEAD:
                fail_rq_job(connection, task.rq_job_id, "run lost")
            lifecycle.enqueue(task)
            report.resubmitted.append(task.pk)
        elif state == JobState.ENDED:
            # The job ended without ever taking the task (e.g. it could not even start).
            job = _fetch(connection, task.rq_job_id)
            status = job.get_status(refresh=False) if job is not None else None
            reason = notice(
                "job_ended",
                gettext_noop("The render job ended (%(status)s) before it could start."),
                status=str(status),
            )
            traceback = (job.exc_info if job is not None else "") or ""
            if lifecycle.fail_queued(task, task.rq_job_id, reason, traceback):
                report.failed.append(task.pk)
    reconcile_thumbnails(connection, now, report)
    # Backlogs move on even when no start or end triggered the scheduler (Redis was down).
    report.dispatched = lifecycle.dispatch()
    return report


def _fetch(connection: Redis, job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None


def reconcile_thumbnails(connection: Redis, now: datetime, report: ReconcileReport) -> None:
    """Pending thumbnails whose job can no longer make them: sent again or failed."""
    from .jobs import enqueue_thumbnail

    lost_after = now - timedelta(seconds=settings.RECONCILE_LOST_QUEUED_S)
    pending = MediaAsset.objects.filter(thumbnail_status=ThumbnailStatus.PENDING).filter(
        Q(thumbnail_queued_at__lt=lost_after)
        | Q(thumbnail_queued_at__isnull=True, created_at__lt=lost_after)
    )
    for asset in pending:
        state = job_state(connection, asset.thumbnail_job_id, now)
        if state in (JobState.WAITING, JobState.RUNNING):
            continue
        if asset.thumbnail_attempts < settings.CHECK_MAX_ATTEMPTS:
            log.warning("thumbnail of asset %s: its job is %s; queued again", asset.pk, state)
            enqueue_thumbnail(asset)
            report.thumbnails_requeued.append(asset.pk)
        else:
            log.warning("thumbnail of asset %s: its job is %s; given up", asset.pk, state)
            MediaAsset.objects.filter(pk=asset.pk, thumbnail_status=ThumbnailStatus.PENDING).update(
                thumbnail_status=ThumbnailStatus.FAILED
            )
            report.thumbnails_failed.append(asset.pk)


#: ``.<task id>-<8 hex>.mp4.<12 hex>.part.mp4``: the encoder's file before its final rename
#: (:class:`lipsync.media.writer.VideoWriter`, output names from :func:`rendering.jobs`).
PART_FILE = re.compile(r"^\.(\d+)-[0-9a-f]{8}\.mp4\.[0-9a-f]{12}\.part\.mp4$")


def _outputs_folder(task: RenderTask) -> str:
    return os.path.join(settings.MEDIA_ROOT, "outputs", str(task.batch.team_id), str(task.batch_id))


def remove_part_files(task: RenderTask) -> int:
    """Delete the part files of ``task``'s runs (call once its run is over); how many."""
    folder = _outputs_folder(task)
    removed = 0
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    for name in names:
        match = PART_FILE.match(name)
        if match and int(match.group(1)) == task.pk:
            removed += _unlink(os.path.join(folder, name))
    return removed


def _unlink(path: str) -> int:
    try:
        os.remove(path)
    except FileNotFoundError:
        return 0
    log.info("removed the part file of an interrupted render: %s", path)
    return 1


def sweep_part_files() -> int:
    """Delete every part file under ``MEDIA_ROOT/outputs`` whose run is over: its task is not
    running, or started after the file was last written (an earlier run's). A running task's
    current file stays (the reconciler removes it if that run is lost)."""
    root = os.path.join(settings.MEDIA_ROOT, "outputs")
    found: list[tuple[str, int, float]] = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            match = PART_FILE.match(name)
            if match:
                path = os.path.join(folder, name)
                try:
                    found.append((path, int(match.group(1)), os.path.getmtime(path)))
                except FileNotFoundError:
                    continue
    if not found:
        return 0
    running = dict(
        RenderTask.objects.filter(
            pk__in={pk for _, pk, _ in found}, status=TaskStatus.RUNNING
        ).values_list("pk", "started_at")
    )
    removed = 0
    for path, pk, mtime in found:
        started = running.get(pk)
        if pk in running and (started is None or mtime >= started.timestamp() - 1):
            continue
        removed += _unlink(path)
    return removed


def recover() -> dict[str, list[int]]:
    """The render side's round for :func:`studio.recovery.run_all` (registered in
    :mod:`rendering.apps`)."""
    return asdict(reconcile())
