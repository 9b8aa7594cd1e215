"""The JSON shapes of render progress, shared by the websocket, the JSON endpoint and the page.

Messages (all JSON objects with a ``type``):

* :class:`SnapshotMessage` ``{"type": "snapshot", "batch": BatchSummary, "tasks": [TaskPayload]}``
  on connect, on ``{"type": "resync"}`` and whenever the batch's status changes;
* :class:`TaskMessage` ``{"type": "task", "task": TaskPayload, "batch": BatchSummary}`` for
  each task update; the batch summary rides along, so the page never derives a rule itself.

Texts for people (``error``, ``status_label``) are in the reader's language: the request's, or
for the websocket the connecting client's. Group events carry the untranslated error notices
next to the payload (:class:`TaskEvent`, :class:`BatchEvent`) and each consumer translates
them with :func:`localise_task` / :func:`localise_summary`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, TypedDict

from django.urls import reverse

from studio.notices import Notice

from .models import ACTIVE_STATUSES, Batch, BatchStatus, RenderTask, TaskStatus, untouched_text


class OutputLinks(TypedDict):
    id: int
    video_url: str
    download_url: str
    thumbnail_url: str
    #: :class:`rendering.models.QualityState` of the video and its score (0..100, or None).
    quality_state: str
    quality_score: int | None


class TaskPayload(TypedDict):
    id: int
    batch: int
    position: int
    presenter: str
    audio: str
    status: str
    status_label: str
    active: bool
    #: Seconds until a failed attempt runs again (None unless a retry waits), and of how many.
    retry_in_s: float | None
    max_attempts: int
    stage: str
    percent: float
    fps: float | None
    eta_s: float | None
    frames_done: int
    frames_total: int
    attempts: int
    worker: str
    device: str
    error: str
    #: Frames left as they were for want of a face, their [start, end] seconds, and the
    #: sentence saying so ("" when none).
    untouched_frames: int
    untouched_ranges: list[list[float]]
    untouched: str
    retryable: bool
    started_at: str | None
    finished_at: str | None
    output: OutputLinks | None


class BatchSummary(TypedDict):
    id: int
    name: str
    status: str
    status_label: str
    #: Queued or running tasks remain (the page offers "Cancel", shows "live").
    active: bool
    percent: float
    counts: dict[str, int]
    total: int
    #: Seconds until every task is done, when it can be told (else None).
    eta_s: float | None
    #: Some task may be tried again.
    retryable: bool
    is_preview: bool


class SnapshotMessage(TypedDict):
    type: Literal["snapshot"]
    batch: BatchSummary
    tasks: list[TaskPayload]


class TaskMessage(TypedDict):
    type: Literal["task"]
    task: TaskPayload
    batch: BatchSummary


class TaskEvent(TypedDict):
    """What a publisher sends to the batch's group (Channels type ``task.update``)."""

    type: Literal["task.update"]
    task: TaskPayload
    batch: BatchSummary
    error_notice: dict[str, Any] | None


class BatchEvent(TypedDict):
    type: Literal["batch.update"]
    snapshot: SnapshotMessage
    error_notices: dict[str, dict[str, Any] | None]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def task_payload(task: RenderTask) -> TaskPayload:
    output: OutputLinks | None = None
    if task.output_id:
        asset = task.output
        output = {
            "id": task.output_id,
            "video_url": reverse("media_file", args=[task.output_id]),
            "download_url": reverse("media_download", args=[task.output_id]),
            "thumbnail_url": reverse("media_thumbnail", args=[task.output_id]),
            "quality_state": asset.quality_state if asset is not None else "pending",
            "quality_score": asset.quality_score if asset is not None else None,
        }
    return {
        "id": task.pk,
        "batch": task.batch_id,
        "position": task.position,
        "presenter": task.presenter_name,
        "audio": task.audio_name,
        "status": task.status,
        "status_label": task.status_label,
        "active": task.is_active,
        "retry_in_s": None if task.retry_in_s is None else round(task.retry_in_s, 1),
        "max_attempts": task.max_attempts,
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
        "untouched_frames": task.untouched_frames,
        "untouched_ranges": task.untouched_ranges,
        "untouched": task.untouched_text,
        "retryable": task.retryable,
        "started_at": _iso(task.started_at),
        "finished_at": _iso(task.finished_at),
        "output": output,
    }


def batch_eta_s(tasks: Iterable[RenderTask]) -> float | None:
    """Time left for the whole batch: the longest running task's own ETA, plus the queued ones
    at the mean duration of those already done, spread over the tasks running in parallel."""
    tasks = list(tasks)
    running = [t for t in tasks if t.status == TaskStatus.RUNNING]
    queued = sum(t.status == TaskStatus.QUEUED for t in tasks)
    if not running and not queued:
        return None
    running_left = max((t.eta_s or 0.0 for t in running), default=0.0)
    if not queued:
        return running_left or None
    durations = [
        (t.finished_at - t.started_at).total_seconds()
        for t in tasks
        if t.status == TaskStatus.SUCCEEDED and t.started_at and t.finished_at
    ]
    if not durations:
        return None
    mean = sum(durations) / len(durations)
    return round(running_left + queued * mean / max(1, len(running)), 1)


def batch_summary(batch: Batch, tasks: Iterable[RenderTask] | None = None) -> BatchSummary:
    """The batch's state for people, from its tasks (given, or read in one query)."""
    if tasks is None:
        tasks = batch.tasks.only(
            "status", "percent", "eta_s", "started_at", "finished_at", "error", "batch_id"
        )
    tasks = list(tasks)
    counts: dict[str, int] = {}
    for t in tasks:
        counts[t.status] = counts.get(t.status, 0) + 1
    total = len(tasks)
    done = sum(
        100.0 if t.status == TaskStatus.SUCCEEDED else float(t.percent or 0.0)
        for t in tasks
        if t.status == TaskStatus.SUCCEEDED or t.status in ACTIVE_STATUSES
    )
    return {
        "id": batch.pk,
        "name": batch.display_name,
        "status": batch.status,
        "status_label": str(batch.get_status_display()),
        "active": any(t.status in ACTIVE_STATUSES for t in tasks),
        "percent": round(done / total, 1) if total else 0.0,
        "counts": counts,
        "total": total,
        "eta_s": batch_eta_s(tasks),
        "retryable": any(t.retryable for t in tasks),
        "is_preview": batch.is_preview,
    }


def snapshot(batch: Batch, tasks: Iterable[RenderTask] | None = None) -> SnapshotMessage:
    """The full state of a batch and all its tasks."""
    tasks = list(batch.tasks.select_related("output") if tasks is None else tasks)
    return {
        "type": "snapshot",
        "batch": batch_summary(batch, tasks),
        "tasks": [task_payload(t) for t in tasks],
    }


# --- translation for each reader ----------------------------------------------------------


def localise_task(task: TaskPayload, error_notice: dict[str, Any] | None) -> TaskPayload:
    """A published task with its texts for people in the active language."""
    task = TaskPayload(**task)
    error = Notice.from_json(error_notice)
    if error is not None:
        task["error"] = error.text()
    if task["status"] in TaskStatus.values:
        task["status_label"] = str(TaskStatus(task["status"]).label)
    if task.get("untouched_frames"):
        task["untouched"] = untouched_text(task["untouched_frames"], task["untouched_ranges"])
    return task


def localise_summary(summary: BatchSummary) -> BatchSummary:
    summary = BatchSummary(**summary)
    if summary["status"] in BatchStatus.values:
        summary["status_label"] = str(BatchStatus(summary["status"]).label)
    return summary


def localise_snapshot(
    message: SnapshotMessage, error_notices: dict[str, dict[str, Any] | None]
) -> SnapshotMessage:
    """A published snapshot with its texts for people in the active language
    (``error_notices``: task id as text -> the task's error notice)."""
    return {
        "type": "snapshot",
        "batch": localise_summary(message["batch"]),
        "tasks": [localise_task(t, error_notices.get(str(t["id"]))) for t in message["tasks"]],
    }
