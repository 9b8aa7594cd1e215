"""Recovery of background jobs: the registry of reconcilers, and whether a job still lives.

Every background job has a row that says it is under way and carries the RQ job id: a render
task (``queued``/``running``), a presenter's face check or an audio track's check
(``processing``), an output's thumbnail (``pending``), a webhook delivery
(``pending``/``retrying``). Each app registers a *reconciler* that finds its rows whose job can
no longer end them and re-queues or fails them with a reason (:func:`register`, called from
the apps' ``AppConfig.ready``: the library's own in :mod:`studio.reconcile`, the renders' in
:mod:`rendering.reconcile`, the webhooks' in :mod:`api.reconcile`; the library imports none of
them). :func:`run_all` runs every one; the reconciler loop (``manage.py reconcile_tasks
--loop``) and the workers (between jobs and during renders) call it.

**When a job counts as dead** (:func:`job_state`, the one rule every reconciler uses):

* RQ holds it *waiting* (queued, scheduled for a retry, deferred): alive;
* it is *started* and its worker's heartbeat is younger than ``WORKER_STALE_AFTER_S`` **and**
  that worker's current job (``studio_job`` in the worker's Redis hash, written by
  :class:`rendering.worker.StudioWorker` for the whole run of a job) is this very job: alive;
* started, but the worker is silent or gone, or alive and busy with another job (the run was
  lost: its process moved on without ending the row): *dead*;
* RQ says it ended (finished, failed, stopped, cancelled) while its row is still under way (the
  job could not write its end, e.g. its database connection was gone): *ended*;
* Redis does not know the job (Redis lost it, or it was never sent): *missing*.

Rows are only judged after a grace time (``RECONCILE_LOST_QUEUED_S`` for jobs that never
started), so a job that is just being sent or just ending is never taken for lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.job_lifecycle import record_job_failure
from rq.registry import StartedJobRegistry
from rq.utils import utcparse

from .db import drop_connection

log = logging.getLogger("studio.recovery")

#: A reconciler returns what it did: action -> ids of the rows (e.g. {"requeued": [3]}).
Reconciler = Callable[[], Mapping[str, Sequence[int]]]
_reconcilers: dict[str, Reconciler] = {}

#: Field of a worker's Redis hash naming the job it runs now (absent while idle).
CURRENT_JOB_FIELD = "studio_job"


def register(name: str, reconciler: Reconciler) -> None:
    """Add (or replace) the reconciler ``name``."""
    _reconcilers[name] = reconciler


def registered() -> list[str]:
    return list(_reconcilers)


def run_all() -> dict[str, dict[str, list[int]]]:
    """One round of every reconciler; a failing one is logged and the others still run."""
    out: dict[str, dict[str, list[int]]] = {}
    for name, reconciler in list(_reconcilers.items()):
        try:
            out[name] = {k: list(v) for k, v in reconciler().items()}
        except (DatabaseError, RedisError):
            # Database or Redis away: the next round tries again.
            log.exception("reconciler %s failed; the next round tries again", name)
            drop_connection()
    return out


class JobState(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    DEAD = "dead"
    ENDED = "ended"
    MISSING = "missing"


def _parse(raw: bytes | str | None) -> datetime | None:
    if not raw:
        return None
    parsed = utcparse(raw.decode() if isinstance(raw, bytes) else raw)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def worker_beat(connection: Redis, worker_name: str) -> tuple[datetime | None, str]:
    """The worker's last heartbeat (None if its hash is gone) and the job it says it runs."""
    if not worker_name:
        return None, ""
    beat, current = connection.hmget(
        f"rq:worker:{worker_name}", ["last_heartbeat", CURRENT_JOB_FIELD]
    )
    job = current.decode() if isinstance(current, bytes) else (current or "")
    return _parse(beat), job


def stale_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.WORKER_STALE_AFTER_S)


def worker_runs(
    connection: Redis, worker_name: str, job_id: str, now: datetime | None = None
) -> bool:
    """Whether worker ``worker_name`` is alive and running job ``job_id`` right now."""
    beat, current = worker_beat(connection, worker_name)
    return beat is not None and beat >= stale_cutoff(now) and current == job_id


WAITING_STATUSES = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.CREATED}
ENDED_STATUSES = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


def job_state(connection: Redis, job_id: str, now: datetime | None = None) -> JobState:
    """Where job ``job_id`` stands (see the module's rule)."""
    if not job_id:
        return JobState.MISSING
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return JobState.MISSING
    status = job.get_status(refresh=False)
    if status == JobStatus.STARTED:
        alive = worker_runs(connection, job.worker_name or "", job.id, now)
        return JobState.RUNNING if alive else JobState.DEAD
    if status in ENDED_STATUSES:
        return JobState.ENDED
    return JobState.WAITING


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
