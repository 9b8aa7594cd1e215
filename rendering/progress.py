"""Publishing render progress: to the batch's Channels group, to the task row, to RQ.

The engine calls the progress callback many times a second. :class:`TaskProgressReporter`
turns that stream into at most ``PROGRESS_MESSAGES_PER_S`` websocket messages per task, a DB
write every ``PROGRESS_DB_INTERVAL_S`` and an RQ/worker heartbeat every
``PROGRESS_HEARTBEAT_INTERVAL_S`` (a non-forking worker sends none of its own while a job runs).
Stage changes and the final report always go out at once. The message shapes are in
:mod:`rendering.payloads`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from lipsync.errors import CancelledError
from lipsync.progress import Progress

from .models import Batch, RenderTask
from .payloads import BatchEvent, TaskEvent, batch_summary, snapshot, task_payload

log = logging.getLogger("rendering.progress")

#: The event types consumers handle (``task.update`` -> ``task_update``).
TASK_EVENT: Final = "task.update"
BATCH_EVENT: Final = "batch.update"
ACCESS_EVENT: Final = "access.changed"


def group_name(batch_id: int) -> str:
    return f"batch-{batch_id}"


def user_group(user_id: int) -> str:
    """The group of every progress page one user has open (access changes go there)."""
    return f"user-{user_id}"


def _send(group: str, message: dict[str, Any]) -> None:
    """Send one event to a group; a broken channel layer only costs a log line (progress is
    also in the database, pages resync and poll)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except (OSError, RedisError) as exc:
        log.warning("event for %s not published: %s", group, exc)


def send_to_group(batch_id: int, message: TaskEvent | BatchEvent) -> None:
    """Send one event to the batch's group."""
    _send(group_name(batch_id), dict(message))


def notify_access_changed(user_id: int) -> None:
    """Ask the user's open progress pages to check their access again."""
    _send(user_group(user_id), {"type": ACCESS_EVENT})


def _notice_json(task: RenderTask) -> dict[str, Any] | None:
    return task.error.to_json() if task.error else None


def publish_task(task: RenderTask) -> None:
    """Publish ``task`` as it is in memory (a running job's newest progress) with its batch's
    summary. Events carry the untranslated error next to the payload (in the publisher's
    language); each consumer translates for its client (:mod:`rendering.consumers`)."""
    batch = task.batch
    others = batch.tasks.exclude(pk=task.pk).only(
        "status", "percent", "eta_s", "started_at", "finished_at", "error", "batch_id"
    )
    send_to_group(
        task.batch_id,
        {
            "type": TASK_EVENT,
            "task": task_payload(task),
            "batch": batch_summary(batch, [task, *others]),
            "error_notice": _notice_json(task),
        },
    )


def publish_fresh(task: RenderTask) -> None:
    """Re-read the task's row, publish it and derive its batch's status again (after a write
    elsewhere changed the task)."""
    task.refresh_from_db()
    publish_task(task)
    refresh_batch(task.batch)


def publish_batch(batch: Batch) -> None:
    """Publish the batch's full snapshot (after a status change of the batch)."""
    tasks = list(batch.tasks.select_related("output"))
    send_to_group(
        batch.pk,
        {
            "type": BATCH_EVENT,
            "snapshot": snapshot(batch, tasks),
            "error_notices": {str(t.pk): _notice_json(t) for t in tasks},
        },
    )


def refresh_batch(batch: Batch) -> None:
    """Derive the batch's status from its tasks again; publish a snapshot if it changed."""
    before = batch.status
    batch.refresh_status()
    if batch.status != before:
        publish_batch(batch)


class TaskProgressReporter:
    """The engine's progress callback for one task run.

    ``write`` stores fields on the task row and returns False when the row no longer belongs to
    this run (cancelled, or re-queued by the reconciler): the reporter then raises
    :class:`lipsync.errors.CancelledError` at once so the engine stops and removes its file.
    ``heartbeat`` keeps the RQ worker and job alive.
    """

    def __init__(
        self,
        task: RenderTask,
        *,
        write: Callable[[dict[str, Any]], bool],
        heartbeat: Callable[[], None] | None = None,
        messages_per_s: float | None = None,
        db_interval_s: float | None = None,
        heartbeat_interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.task = task
        self.write = write
        self.heartbeat = heartbeat
        rate = messages_per_s or settings.PROGRESS_MESSAGES_PER_S
        self.message_interval = 1.0 / rate
        self.db_interval = (
            db_interval_s if db_interval_s is not None else settings.PROGRESS_DB_INTERVAL_S
        )
        self.heartbeat_interval = (
            heartbeat_interval_s
            if heartbeat_interval_s is not None
            else settings.PROGRESS_HEARTBEAT_INTERVAL_S
        )
        self.clock = clock
        self._last_message = -1e9
        self._last_db = -1e9
        self._last_heartbeat = clock()
        self._stage: str | None = None
        self.messages_sent = 0

    def __call__(self, report: Progress) -> None:
        now = self.clock()
        stage_changed = report.stage != self._stage
        final = report.overall >= 1.0 and report.fraction >= 1.0
        self._stage = report.stage
        task = self.task
        task.stage = report.stage
        task.percent = max(0.0, min(report.overall, 1.0)) * 100.0
        task.fps = report.fps
        task.eta_s = report.eta_s
        task.frames_done = report.frames_done
        task.frames_total = report.frames_total
        if now - self._last_heartbeat >= self.heartbeat_interval:
            self._last_heartbeat = now
            self.beat()
        if stage_changed or final or now - self._last_db >= self.db_interval:
            self._last_db = now
            self.save()
        if stage_changed or final or now - self._last_message >= self.message_interval:
            self._last_message = now
            self.messages_sent += 1
            publish_task(task)

    def beat(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat()

    def save(self) -> None:
        task = self.task
        task.heartbeat_at = timezone.now()
        owned = self.write(
            {
                "stage": task.stage,
                "percent": task.percent,
                "fps": task.fps,
                "eta_s": task.eta_s,
                "frames_done": task.frames_done,
                "frames_total": task.frames_total,
                "heartbeat_at": task.heartbeat_at,
            }
        )
        if not owned:
            raise CancelledError(f"task {task.pk} was taken away from this worker")
