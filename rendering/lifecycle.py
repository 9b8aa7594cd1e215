"""The life of a render task: the one module that changes a task's ``status``.

::

    submit ──> queued ──claim──> running ──succeed──> succeeded
                 │  ^               │ │ └──fail──────> failed ─────┐
                 │  │               │ └──cancelled──> cancelled ──┤
                 │  └─retry_later───┘  (same job, RQ retries)     │
                 │  └─requeue (fresh job: dead worker, "Try again") ┘
                 ├──request_cancel──> cancelled
                 └──fail_queued (its job ended before it began) ──> failed

A queued task first waits in its team's *backlog*; :func:`dispatch` (the fair-share
scheduler, below) hands it to RQ when its team's turn comes. Every transition is one
conditional UPDATE: it names the statuses it leaves from (the
:data:`RULES` table) and, for the ones a job drives, the job id the task must still carry, so a
cancelled, re-queued or superseded run can no longer write. Each one writes the fields it owns
(a run that starts, again or for the first time, starts from :func:`fresh_progress`), publishes
the task to its batch's listeners and derives the batch's status again. It returns whether it
happened. Render jobs, the reconciler, the batch services and the admin call these; nothing
else writes ``RenderTask.status`` (``tests/batches/test_lifecycle.py`` checks the source).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F
from django.utils import timezone
from django.utils.translation import gettext_noop
from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, Retry

from studio import queues
from studio.notices import Notice, notice

from . import events, progress
from .models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    Batch,
    MediaAsset,
    RenderTask,
    TaskStatus,
    done_percent,
)
from .models.batches import UNRETRYABLE_CODES

log = logging.getLogger("rendering.lifecycle")

RENDER_FUNC = "rendering.jobs.render_task"


@dataclass(frozen=True)
class Rule:
    """A transition: the statuses it may leave from and the one it reaches."""

    name: str
    sources: frozenset[str]
    target: str

    def allows(self, status: str) -> bool:
        return status in self.sources


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule("claim", frozenset({TaskStatus.QUEUED}), TaskStatus.RUNNING),
        Rule("succeed", frozenset({TaskStatus.RUNNING}), TaskStatus.SUCCEEDED),
        Rule("fail", frozenset({TaskStatus.RUNNING}), TaskStatus.FAILED),
        Rule("fail_queued", frozenset({TaskStatus.QUEUED}), TaskStatus.FAILED),
        Rule("cancelled", frozenset({TaskStatus.RUNNING}), TaskStatus.CANCELLED),
        Rule("retry_later", frozenset({TaskStatus.RUNNING}), TaskStatus.QUEUED),
        Rule(
            "requeue",
            frozenset({TaskStatus.RUNNING, TaskStatus.FAILED, TaskStatus.CANCELLED}),
            TaskStatus.QUEUED,
        ),
        Rule("request_cancel", frozenset({TaskStatus.QUEUED}), TaskStatus.CANCELLED),
    )
}


def fresh_progress() -> dict[str, Any]:
    """The progress fields every run starts from."""
    return {
        "stage": "",
        "percent": 0.0,
        "fps": None,
        "eta_s": None,
        "frames_done": 0,
        "frames_total": 0,
    }


#: Fields a running job may write besides its transitions (see :func:`record_progress`).
PROGRESS_FIELDS = frozenset({*fresh_progress(), "heartbeat_at", "worker_model_loads", "stats"})


def _move(
    task: RenderTask, rule: Rule, *, job_id: str | None = None, publish: bool = True, **fields: Any
) -> bool:
    """Apply ``rule`` to ``task`` if its row still allows it (status, and ``job_id`` when
    given); write ``fields``; publish. True if the row changed."""
    rows = RenderTask.objects.filter(pk=task.pk, status__in=rule.sources)
    if job_id is not None:
        rows = rows.filter(rq_job_id=job_id)
    changed = rows.update(status=rule.target, **fields) == 1
    if changed and publish:
        progress.publish_fresh(task)
    elif changed:
        task.refresh_from_db()
    if changed:
        _announce(task, rule)
        dispatch_after_commit()  # a slot of the task's team may have come free
    return changed


def _announce(task: RenderTask, rule: Rule) -> None:
    """Send the signals of :mod:`rendering.events` for a transition that happened.

    ``batch_completed`` goes out once per run of a batch: the finisher that finds no active task
    left claims ``completion_announced_at`` with a conditional UPDATE (two workers finishing at
    once cannot both win); a task that runs again clears it.
    """
    if rule.target == TaskStatus.QUEUED:
        Batch.objects.filter(pk=task.batch_id).exclude(completion_announced_at=None).update(
            completion_announced_at=None
        )
        return
    if rule.target == TaskStatus.SUCCEEDED:
        events.send(events.task_succeeded, RenderTask, task=task)
    elif rule.target == TaskStatus.FAILED:
        events.send(events.task_failed, RenderTask, task=task)
    if rule.target not in FINAL_STATUSES:
        return
    active = RenderTask.objects.filter(batch_id=task.batch_id, status__in=ACTIVE_STATUSES)
    claimed = (
        Batch.objects.filter(pk=task.batch_id, completion_announced_at=None)
        .exclude(Exists(active))
        .update(completion_announced_at=timezone.now())
    )
    if claimed:
        batch = Batch.objects.get(pk=task.batch_id)
        batch.refresh_status()
        events.send(events.batch_completed, Batch, batch=batch)


# --- submission ------------------------------------------------------------------------------


def retry_policy(task: RenderTask) -> Retry | None:
    """RQ's retries of one job: the task's attempts left after this one, spaced by
    ``RENDER_RETRY_INTERVALS_S``."""
    left = task.max_attempts - task.attempts - 1
    if left <= 0:
        return None
    return Retry(max=left, interval=list(settings.RENDER_RETRY_INTERVALS_S))


def enqueue(task: RenderTask) -> str:
    """Queue the job of ``task`` (id ``task.rq_job_id``) on its queue, after the current
    transaction commits. Previews go to the front: they take seconds and someone waits."""
    return queues.enqueue(
        queues.QueueName(task.queue_name),
        RENDER_FUNC,
        task.pk,
        job_id=task.rq_job_id,
        timeout_s=task.timeout_s or None,
        retry=retry_policy(task),
        at_front=task.batch.is_preview,
        description=f"render task {task.pk}",
    )


def submit(tasks: Sequence[RenderTask]) -> list[RenderTask]:
    """Store new tasks (queued, each with its own job id) in their team's backlog; the
    scheduler hands them to RQ after commit (:func:`dispatch`)."""
    now = timezone.now()
    for task in tasks:
        task.status = TaskStatus.QUEUED
        task.queued_at = now
        task.dispatched_at = None
        task.rq_job_id = queues.new_job_id()
    with transaction.atomic():
        created = RenderTask.objects.bulk_create(tasks)
        ids = [t.pk for t in created] if all(t.pk for t in created) else None
        if ids is None:  # backends that return no ids from bulk_create
            ids = list(
                RenderTask.objects.filter(rq_job_id__in=[t.rq_job_id for t in tasks]).values_list(
                    "pk", flat=True
                )
            )
        dispatch_after_commit()
    return list(RenderTask.objects.filter(pk__in=ids))


# --- a job's run ---------------------------------------------------------------------------


def claim(task_id: int, job_id: str, *, worker: str, device: str) -> RenderTask | None:
    """Start the run of job ``job_id``: only while the task is queued under that very job and
    nobody asked to cancel it. Returns the task (running), or None: then the job does nothing."""
    now = timezone.now()
    rule = RULES["claim"]
    changed = (
        RenderTask.objects.filter(
            pk=task_id, status__in=rule.sources, rq_job_id=job_id, cancel_requested=False
        ).update(
            status=rule.target,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            retry_at=None,
            worker_name=worker,
            device=device,
            attempts=F("attempts") + 1,
            **{**fresh_progress(), "stage": "starting"},
        )
        == 1
    )
    if not changed:
        return None
    task = RenderTask.objects.select_related("batch", "presenter", "audio").get(pk=task_id)
    progress.publish_task(task)
    progress.refresh_batch(task.batch)
    dispatch_after_commit()  # its place in the gpu queue is free for its team's next task
    return task


def record_progress(task_id: int, job_id: str, **fields: Any) -> bool:
    """Store a running job's progress; False once the task is no longer this job's (cancel
    requested, re-queued by the reconciler): the job then stops."""
    unknown = set(fields) - PROGRESS_FIELDS
    if unknown:
        raise ValueError(f"not progress fields: {sorted(unknown)}")
    rows = RenderTask.objects.filter(
        pk=task_id, rq_job_id=job_id, status=TaskStatus.RUNNING, cancel_requested=False
    )
    return rows.update(**fields) == 1


def _ended(**fields: Any) -> dict[str, Any]:
    return {"finished_at": timezone.now(), "eta_s": None, **fields}


def succeed(task: RenderTask, job_id: str, output: MediaAsset, fps: float | None) -> bool:
    return _move(
        task,
        RULES["succeed"],
        job_id=job_id,
        **_ended(stage="done", percent=100.0, output=output, fps=fps, error=None),
    )


def fail(task: RenderTask, job_id: str, error: Notice, traceback: str = "") -> bool:
    """The run of ``job_id`` failed for good."""
    return _move(task, RULES["fail"], job_id=job_id, **_ended(error=error, traceback=traceback))


def cancelled(task: RenderTask, job_id: str) -> bool:
    """The run of ``job_id`` stopped because someone cancelled it."""
    note = notice("cancelled", gettext_noop("Cancelled while rendering."))
    return _move(task, RULES["cancelled"], job_id=job_id, **_ended(stage="", error=note))


def retry_later(
    task: RenderTask,
    job_id: str,
    note: Notice,
    traceback: str = "",
    *,
    in_s: float = 0.0,
    fingerprint: str = "",
) -> bool:
    """The run failed for a reason that may pass; RQ runs the same job again in ``in_s``
    seconds (the page counts down to it). ``fingerprint`` identifies the failure, so the next
    attempt can tell whether it failed the same way."""
    now = timezone.now()
    return _move(
        task,
        RULES["retry_later"],
        job_id=job_id,
        queued_at=now,
        retry_at=now + timedelta(seconds=max(in_s, 0.0)),
        failure_fingerprint=fingerprint,
        traceback=traceback,
        error=note,
        **fresh_progress(),
    )


def fail_queued(task: RenderTask, job_id: str, error: Notice, traceback: str = "") -> bool:
    """A queued task whose job ended without ever taking it."""
    return _move(
        task, RULES["fail_queued"], job_id=job_id, **_ended(error=error, traceback=traceback)
    )


# --- people and the reconciler ---------------------------------------------------------------


def cancel_key(task_id: int) -> str:
    """Redis key a running render polls to learn it was cancelled."""
    return f"studio:cancel:task:{task_id}"


def request_cancel(task: RenderTask) -> bool:
    """Cancel a queued or running task; True if it was active.

    The row's ``cancel_requested`` is the truth and is written first. A queued task is
    cancelled at once (its RQ job too, when Redis answers; a job left in the queue finds the
    task cancelled and does nothing). A running one stops at its next batch of frames, leaving
    no file: its render polls a Redis key (set here when Redis answers) and, while Redis is
    away, the flag itself, and its next progress write sees the flag
    (:func:`record_progress`); its job then makes the transition (:func:`cancelled`).
    """
    if task.status not in ACTIVE_STATUSES:
        return False
    RenderTask.objects.filter(pk=task.pk, status__in=ACTIVE_STATUSES).update(cancel_requested=True)
    try:
        redis = queues.connection(queues.QueueName(task.queue_name))
        redis.set(cancel_key(task.pk), "1", ex=7 * 24 * 3600)
    except RedisError as exc:
        log.warning("task %s: cancel flag only in the database, Redis away (%s)", task.pk, exc)
    note = notice("cancelled", gettext_noop("Cancelled before it started."))
    if _move(task, RULES["request_cancel"], **_ended(stage="", error=note)):
        _cancel_job(task)
    else:
        progress.publish_fresh(task)
    return True


def _cancel_job(task: RenderTask) -> None:
    try:
        redis = queues.connection(queues.QueueName(task.queue_name))
        Job.fetch(task.rq_job_id, connection=redis).cancel()
    except (NoSuchJobError, InvalidJobOperation):
        log.info("job %s of task %s already gone or ended", task.rq_job_id, task.pk)
    except RedisError as exc:
        log.warning(
            "job %s of task %s left in Redis (%s); it will do nothing", task.rq_job_id, task.pk, exc
        )


def requeue(task: RenderTask, *, note: Notice | None = None, fresh_attempts: bool = False) -> bool:
    """Run ``task`` again under a fresh job id (the old job, if it still runs, can no longer
    write). From running (its worker died), failed or cancelled ("Try again": with
    ``fresh_attempts`` it gets a whole new set of attempts and forgets its old output).
    ``note`` is shown as the task's error meanwhile."""
    extra: dict[str, Any] = (
        {"attempts": 0, "traceback": "", "output": None, "failure_fingerprint": ""}
        if fresh_attempts
        else {}
    )
    with transaction.atomic():
        changed = _move(
            task,
            RULES["requeue"],
            job_id=task.rq_job_id,
            publish=False,
            rq_job_id=queues.new_job_id(),
            queued_at=timezone.now(),
            dispatched_at=None,
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
            retry_at=None,
            cancel_requested=False,
            worker_name="",
            device="",
            error=note,
            **fresh_progress(),
            **extra,
        )
    if not changed:
        return False
    try:
        queues.connection(queues.QueueName(task.queue_name)).delete(cancel_key(task.pk))
    except RedisError as exc:
        log.warning("task %s: stale cancel flag not removed: %s", task.pk, exc)
    progress.publish_fresh(task)
    return True


# --- fair share: the teams' backlogs and the gpu queue ---------------------------------------
#
# Rule: every team with work keeps at most RENDER_QUEUED_PER_TEAM tasks in the gpu queue, and
# (with TEAM_MAX_CONCURRENT_RENDERS) at most that many queued-in-RQ plus running; the rest wait
# in the team's backlog, previews first, then in the order they were queued. The workers take
# the queue in order, so while several teams have work the starts go round the teams: a team
# that submits 500 tasks holds two places in the queue, a team that submits one after it gets
# the third. A slot is refilled when a task of the team starts or ends (claim and every
# transition call dispatch after commit) and by the reconciler's rounds. Previews skip the
# per-team limit and go to the front of the queue (someone waits for them), within the
# concurrent-render quota.

DISPATCH_LOCK = "studio:dispatch:lock"
_local = threading.local()


@dataclass
class TeamLoad:
    waiting: int = 0  #: tasks handed to RQ, not started (retries waiting in RQ included)
    running: int = 0


def _loads() -> dict[int, TeamLoad]:
    loads: dict[int, TeamLoad] = {}
    sent = Counter(
        RenderTask.objects.filter(
            status=TaskStatus.QUEUED, dispatched_at__isnull=False
        ).values_list("batch__team_id", flat=True)
    )
    running = Counter(
        RenderTask.objects.filter(status=TaskStatus.RUNNING).values_list(
            "batch__team_id", flat=True
        )
    )
    for team_id in {*sent, *running}:
        loads[team_id] = TeamLoad(waiting=sent[team_id], running=running[team_id])
    return loads


def backlog() -> Any:
    """Queued tasks whose job is not yet with RQ (cancelled ones never go)."""
    return RenderTask.objects.filter(
        status=TaskStatus.QUEUED, dispatched_at__isnull=True, cancel_requested=False
    )


def _next_of(team_id: int) -> RenderTask | None:
    return (
        backlog()
        .filter(batch__team_id=team_id)
        .select_related("batch")
        .order_by("-batch__is_preview", "queued_at", "pk")
        .first()
    )


def _may_send(load: TeamLoad, preview: bool) -> bool:
    quota = settings.TEAM_MAX_CONCURRENT_RENDERS
    if quota and load.waiting + load.running >= quota:
        return False
    return preview or load.waiting < settings.RENDER_QUEUED_PER_TEAM


@dataclass(frozen=True)
class RenderSlots:
    """Where a team stands with the scheduler (for pages and the API)."""

    backlog: int  #: tasks waiting for their team's turn
    waiting: int  #: in the gpu queue
    running: int
    limit: int  #: TEAM_MAX_CONCURRENT_RENDERS, 0 = none


def render_slots(team_id: int) -> RenderSlots:
    load = _loads().get(team_id, TeamLoad())
    return RenderSlots(
        backlog=backlog().filter(batch__team_id=team_id).count(),
        waiting=load.waiting,
        running=load.running,
        limit=settings.TEAM_MAX_CONCURRENT_RENDERS,
    )


def _send(task: RenderTask) -> bool:
    """Hand one backlog task to RQ; False if Redis refused (the task stays in the backlog)."""
    rows = backlog().filter(pk=task.pk, rq_job_id=task.rq_job_id)
    if rows.update(dispatched_at=timezone.now()) != 1:
        return False
    try:
        enqueue(task)
    except queues.QueueUnavailable:
        RenderTask.objects.filter(pk=task.pk, rq_job_id=task.rq_job_id).update(dispatched_at=None)
        raise
    return True


def dispatch() -> list[int]:
    """Hand backlog tasks to RQ by the fair-share rule above; returns the ids sent.

    One process at a time (a Redis lock; others wait for it). A call made while this thread
    is already dispatching (a job run synchronously by RQ) only asks the running one for
    another round.
    """
    if getattr(_local, "active", False):
        _local.again = True
        return []
    sent: list[int] = []
    try:
        lock = queues.connection(queues.QueueName.GPU).lock(
            DISPATCH_LOCK, timeout=60, blocking_timeout=30
        )
        if not lock.acquire():
            log.warning("dispatch: lock busy for 30 s; the next round will try again")
            return sent
    except RedisError as exc:
        log.warning("dispatch: Redis not reachable (%s); tasks wait in their backlog", exc)
        return sent
    _local.active = True
    try:
        _local.again = True
        while _local.again:
            _local.again = False
            sent += _dispatch_rounds()
    except queues.QueueUnavailable as exc:
        log.warning("dispatch: Redis refused a job (%s); tasks wait in their backlog", exc)
    finally:
        _local.active = False
        try:
            lock.release()
        except RedisError as exc:
            log.warning("dispatch: lock not released (%s); it expires by itself", exc)
    if sent:
        log.info("dispatched %d task(s) to the gpu queue: %s", len(sent), sent)
    return sent


def _dispatch_rounds() -> list[int]:
    sent: list[int] = []
    loads = _loads()
    teams = set(backlog().order_by().values_list("batch__team_id", flat=True).distinct())
    while teams:
        # Least served team first: fewest tasks queued and running.
        order = sorted(
            teams,
            key=lambda t: (loads.get(t, TeamLoad()).waiting + loads.get(t, TeamLoad()).running, t),
        )
        progressed = False
        for team_id in order:
            load = loads.setdefault(team_id, TeamLoad())
            task = _next_of(team_id)
            if task is None:
                teams.discard(team_id)
                continue
            if not _may_send(load, task.batch.is_preview):
                teams.discard(team_id)
                continue
            if _send(task):
                load.waiting += 1
                sent.append(task.pk)
                progressed = True
        if not progressed:
            break
    return sent


def dispatch_after_commit() -> None:
    """Run :func:`dispatch` once the current transaction commits (at once outside one)."""
    transaction.on_commit(dispatch, robust=True)


def retryable(task: RenderTask) -> bool:
    """Whether "Try again" may help: see :attr:`RenderTask.retryable`."""
    return task.retryable


__all__ = [
    "PROGRESS_FIELDS",
    "RULES",
    "UNRETRYABLE_CODES",
    "RenderSlots",
    "Rule",
    "backlog",
    "cancel_key",
    "cancelled",
    "claim",
    "dispatch",
    "dispatch_after_commit",
    "done_percent",
    "enqueue",
    "fail",
    "fail_queued",
    "fresh_progress",
    "record_progress",
    "render_slots",
    "request_cancel",
    "requeue",
    "retry_later",
    "retry_policy",
    "retryable",
    "submit",
    "succeed",
]
