"""Publishing render progress: to the batch's Channels group, to the task row, to RQ.

The engine calls the progress callback many times a second. :class:`TaskProgressReporter`
turns that stream into at most ``PROGRESS_MESSAGES_PER_S`` websocket messages per task, a DB
write every ``PROGRESS_DB_INTERVAL_S`` and an RQ/worker heartbeat every
``PROGRESS_HEARTBEAT_INTERVAL_S`` (a non-forking worker sends none of its own while a job runs).
Stage changes and the final report always go out at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from lipsync.errors import CancelledError
from lipsync.progress import Progress

log = logging.getLogger("studio.progress")

#: The event type consumers handle (``task.update`` -> ``task_update``).
TASK_EVENT = "task.update"
BATCH_EVENT = "batch.update"


def group_name(batch_id: int) -> str:
    return f"batch-{batch_id}"


#: Error codes (``studio.notices``) of failures that running the render again cannot fix.
UNRETRYABLE_CODES = frozenset({"input", "engine_unusable"})


def task_retryable(task) -> bool:
    """A failed or cancelled task whose error a retry may fix (not bad input, not weights)."""
    if task.status not in ("failed", "cancelled"):
        return False
    return (task.error_notice or {}).get("code") not in UNRETRYABLE_CODES


def done_percent(tasks) -> float:
    """Work done: succeeded renders count 100, active ones their percent, failed ones 0."""
    tasks = list(tasks)
    if not tasks:
        return 0.0
    return sum(
        100.0
        if t.status == "succeeded"
        else float(t.percent or 0.0)
        if t.status in ("queued", "running")
        else 0.0
        for t in tasks
    ) / len(tasks)


def task_snapshot(task) -> dict[str, Any]:
    """The JSON form of a task, shared by the websocket, the JSON endpoint and the page."""
    output = None
    if task.output_id:
        output = {
            "id": task.output_id,
            "video_url": reverse("media_file", args=[task.output_id]),
            "download_url": reverse("media_download", args=[task.output_id]),
            "thumbnail_url": reverse("media_thumbnail", args=[task.output_id]),
        }
    return {
        "id": task.pk,
        "batch": task.batch_id,
        "position": task.position,
        "presenter": task.presenter_name,
        "audio": task.audio_name,
        "status": task.status,
        "status_label": str(task.get_status_display()),
        "stage": task.stage,
        "percent": round(float(task.percent or 0.0), 1),
        "fps": round(task.fps, 1) if task.fps is not None else None,
        "eta_s": round(task.eta_s, 1) if task.eta_s is not None else None,
        "frames_done": task.frames_done,
        "frames_total": task.frames_total,
        "attempts": task.attempts,
        "worker": task.worker_name,
        "device": task.device,
        "error": task.error_text,
        "retryable": task_retryable(task),
        "started_at": task.started_at.isoformat() if task.started_at else None,
        "finished_at": task.finished_at.isoformat() if task.finished_at else None,
        "output": output,
    }


def batch_snapshot(batch, tasks=None) -> dict[str, Any]:
    """The full state of a batch and all its tasks (sent on connect and by the JSON view)."""
    tasks = list(batch.tasks.all()) if tasks is None else list(tasks)
    total = len(tasks)
    percent = done_percent(tasks)
    counts: dict[str, int] = {}
    for t in tasks:
        counts[t.status] = counts.get(t.status, 0) + 1
    return {
        "type": "snapshot",
        "batch": {
            "id": batch.pk,
            "name": batch.display_name,
            "status": batch.status,
            "status_label": str(batch.get_status_display()),
            "percent": round(percent, 1),
            "counts": counts,
            "total": total,
            "is_preview": batch.is_preview,
        },
        "tasks": [task_snapshot(t) for t in tasks],
    }


def send_to_group(batch_id: int, message: dict[str, Any]) -> None:
    """Send one event to the batch's group; a broken channel layer only costs a log line."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(batch_id), message)
    except OSError as exc:  # Redis away: progress is also in the DB, the page can resync
        log.warning("progress for batch %s not published: %s", batch_id, exc)


def publish_task(task) -> None:
    """Publish the task's current row to its batch's listeners.

    Events carry the untranslated error records next to the snapshot (in the publisher's
    language); each consumer translates for its client (:mod:`studio.consumers`)."""
    send_to_group(
        task.batch_id,
        {"type": TASK_EVENT, "task": task_snapshot(task), "error_notice": task.error_notice},
    )


def publish_fresh(task) -> None:
    """Re-read the task's row, publish it and derive its batch's status again (after a write
    elsewhere changed the task)."""
    task.refresh_from_db()
    publish_task(task)
    refresh_batch(task.batch)


def publish_batch(batch) -> None:
    """Publish the batch's full snapshot (after a status change of the batch)."""
    tasks = list(batch.tasks.all())
    send_to_group(
        batch.pk,
        {
            "type": BATCH_EVENT,
            "snapshot": batch_snapshot(batch, tasks),
            "error_notices": {str(t.pk): t.error_notice for t in tasks},
        },
    )


def refresh_batch(batch) -> None:
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
        task,
        *,
        write: Callable[[dict], bool],
        heartbeat: Callable[[], None] | None = None,
        messages_per_s: float | None = None,
        db_interval_s: float | None = None,
        heartbeat_interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.task = task
        self.write = write
        self.heartbeat = heartbeat
        rate = messages_per_s or getattr(settings, "PROGRESS_MESSAGES_PER_S", 4.0)
        self.message_interval = 1.0 / rate
        self.db_interval = (
            db_interval_s
            if db_interval_s is not None
            else getattr(settings, "PROGRESS_DB_INTERVAL_S", 1.0)
        )
        self.heartbeat_interval = (
            heartbeat_interval_s
            if heartbeat_interval_s is not None
            else getattr(settings, "PROGRESS_HEARTBEAT_INTERVAL_S", 5.0)
        )
        self.clock = clock
        self._last_message = -1e9
        self._last_db = -1e9
        self._last_heartbeat = clock()
        self._stage = None
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
