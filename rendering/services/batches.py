"""Submitting, enqueueing, cancelling and retrying batches of renders.

Views and the reconciler go through these functions; they hold the rules (who may, what is
refused, how long a job may take) so the HTTP layer stays thin.
"""

from __future__ import annotations

import logging
import shutil
import statistics
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, Retry

from lipsync.engines import DEFAULT_ENGINE, available_engines, get_engine_class

from ..models import (
    AudioTrack,
    Batch,
    MediaStatus,
    Presenter,
    Project,
    Quality,
    RenderTask,
    TaskStatus,
)
from ..notices import error_fields, notice
from ..progress import publish_fresh, task_retryable

log = logging.getLogger("studio.batches")

RENDER_FUNC = "studio.jobs.render.render_task"
PREVIEW_SECONDS = 3.0


class BatchRefused(Exception):
    """A batch cannot be submitted; the message is for the user."""


def _setting(name: str, default):
    return getattr(settings, name, default)


def cancel_key(task_id: int) -> str:
    """Redis key a running render polls to learn it was cancelled."""
    return f"studio:cancel:task:{task_id}"


def render_timeout_s(
    audio_s: float | None, presenter_s: float | None, preview_s: float | None = None
) -> int:
    """Job time limit: a fixed allowance plus a multiple of the media's length.

    Sized for a CPU worker (the slowest case); ``RENDER_TIMEOUT_*`` settings tune it.
    """
    base = _setting("RENDER_TIMEOUT_BASE_S", 120)
    per_audio = _setting("RENDER_TIMEOUT_PER_AUDIO_S", 20)
    per_presenter = _setting("RENDER_TIMEOUT_PER_PRESENTER_S", 5)
    if audio_s is None:
        audio_s = _setting("RENDER_TIMEOUT_UNKNOWN_AUDIO_S", 600)
    if preview_s is not None:
        audio_s = min(audio_s, preview_s)
    return int(base + per_audio * audio_s + per_presenter * (presenter_s or 0.0))


#: Frames per second (wall clock, per worker) assumed before this install has measured any
#: render: about what a 2-core CPU worker reaches with the default (warp) engine on a 576p to
#: 720p presenter (a 20 s clip renders in 2-5 s end to end). Setting:
#: ``RENDER_ESTIMATE_FALLBACK_FPS``. Replaced by the median of recent renders once there are some.
FALLBACK_RENDER_FPS = 100.0
#: Seconds each render spends outside its frames (queue pickup, reading inputs, muxing).
RENDER_OVERHEAD_S = 1.0
#: Frame rate assumed for the output when estimating (presenters are usually 25-30 fps).
ESTIMATE_VIDEO_FPS = 25.0
ESTIMATE_SAMPLE = 20


def measured_fps(team, engine: str) -> float | None:
    """Median wall-clock frames/s of the team's recent succeeded renders with ``engine``.

    Wall clock (frames over start-to-finish time) rather than the engine's own frame rate so
    the face tracking and encoding a render also pays are in it. None without any.
    """
    rows = (
        RenderTask.objects.filter(
            batch__team=team, batch__engine=engine, status=TaskStatus.SUCCEEDED, frames_total__gt=0
        )
        .exclude(started_at=None)
        .exclude(finished_at=None)
        .order_by("-finished_at")
        .values_list("frames_total", "started_at", "finished_at", "fps")[:ESTIMATE_SAMPLE]
    )
    speeds = []
    for frames, started, finished, fps in rows:
        seconds = (finished - started).total_seconds()
        if seconds > 0:
            speeds.append(frames / seconds)
        elif fps:
            speeds.append(fps)
    return statistics.median(speeds) if speeds else None


def render_speed(team, engine: str) -> float:
    """Frames/s to estimate with: measured on this install, else the documented fallback."""
    return measured_fps(team, engine) or float(
        _setting("RENDER_ESTIMATE_FALLBACK_FPS", FALLBACK_RENDER_FPS)
    )


def render_workers() -> int:
    """Workers listening on the render queue now (at least 1, so an estimate stays finite)."""
    from redis.exceptions import RedisError
    from rq import Worker

    try:
        connection = django_rq.get_connection("gpu")
        n = sum(1 for w in Worker.all(connection=connection) if "gpu" in w.queue_names())
    except RedisError:
        return 1
    return max(1, n)


def estimate_seconds(
    n_tasks: int, audio_seconds: float, fps: float = FALLBACK_RENDER_FPS, workers: int = 1
) -> float:
    """A rough wall time for ``n_tasks`` renders of ``audio_seconds`` of speech each, at
    ``fps`` frames/s per worker, spread over ``workers``."""
    per_task = RENDER_OVERHEAD_S + audio_seconds * ESTIMATE_VIDEO_FPS / max(fps, 1e-3)
    return n_tasks * per_task / max(1, workers)


def free_disk_bytes() -> int:
    root = settings.MEDIA_ROOT
    root.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(root).free


def check_free_disk() -> None:
    minimum = _setting("MIN_FREE_DISK_BYTES", 2 * 1024**3)
    free = free_disk_bytes()
    if free < minimum:
        raise BatchRefused(
            _(
                "Not enough free disk space to start a batch: %(free)s free, at least %(min)s "
                "needed. Delete old videos in the media library or ask an administrator to free "
                "space."
            )
            % {"free": human_bytes(free), "min": human_bytes(minimum)}
        )


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


@dataclass
class BatchSpec:
    """What the user asked for."""

    project: Project
    audios: Sequence[AudioTrack]
    presenters: Sequence[Presenter]
    engine: str = DEFAULT_ENGINE
    max_height: int | None = None
    quality: str = Quality.STANDARD
    name: str = ""
    preview: bool = False


def _default_name(spec: BatchSpec) -> str:
    """The name of a batch the user did not name. A preview's is only its parts (the
    "Preview" label is added, translated, when shown: :attr:`Batch.display_name`)."""
    audio = (
        spec.audios[0].name
        if len(spec.audios) == 1
        else _("%(n)d audio tracks") % {"n": len(spec.audios)}
    )
    if spec.preview:
        return f"{spec.presenters[0].name} × {audio}"
    return _("%(audio)s × %(n)d presenters") % {"audio": audio, "n": len(spec.presenters)}


def validate_spec(spec: BatchSpec) -> None:
    team = spec.project.team
    if not spec.audios:
        raise BatchRefused(_("Choose at least one audio track."))
    if not spec.presenters:
        raise BatchRefused(_("Choose at least one presenter."))
    if spec.preview and (len(spec.audios) != 1 or len(spec.presenters) != 1):
        raise BatchRefused(_("A preview renders one presenter with one audio track."))
    limit = _setting("MAX_BATCH_TASKS", 1000)
    if len(spec.audios) * len(spec.presenters) > limit:
        raise BatchRefused(_("A batch may hold at most %(n)d renders.") % {"n": limit})
    if spec.engine not in available_engines():
        raise BatchRefused(_("Unknown engine “%(name)s”.") % {"name": spec.engine})
    if not get_engine_class(spec.engine).weights_available():
        raise BatchRefused(
            _(
                "The engine “%(name)s” needs model weights that this server does not have; choose "
                "another engine or ask your administrator."
            )
            % {"name": spec.engine}
        )
    if spec.quality not in Quality.values:
        raise BatchRefused(_("Unknown quality “%(name)s”.") % {"name": spec.quality})
    for audio in spec.audios:
        if audio.project_id != spec.project.pk:
            raise BatchRefused(_("Audio “%(name)s” is not in this project.") % {"name": audio.name})
        if audio.status != MediaStatus.READY:
            raise BatchRefused(_("Audio “%(name)s” is not ready.") % {"name": audio.name})
    for presenter in spec.presenters:
        if presenter.team_id != team.pk:
            raise BatchRefused(
                _("Presenter “%(name)s” is not in this team.") % {"name": presenter.name}
            )
        if presenter.status == MediaStatus.PROCESSING:
            raise BatchRefused(
                _("Presenter “%(name)s” is still being prepared.") % {"name": presenter.name}
            )


def create_batch(user, spec: BatchSpec) -> Batch:
    """Create the batch and its tasks in one transaction; enqueue one job per task after it.

    Presenters whose preparation failed still get a task: it fails with the preparation's
    reason, so the batch page shows why (the user may have picked them by "select all").
    """
    validate_spec(spec)
    check_free_disk()
    preview_s = _setting("PREVIEW_SECONDS", PREVIEW_SECONDS) if spec.preview else None
    with transaction.atomic():
        batch = Batch.objects.create(
            team=spec.project.team,
            project=spec.project,
            created_by=user,
            name=(spec.name.strip() or _default_name(spec))[:200],
            engine=spec.engine,
            max_height=spec.max_height,
            quality=spec.quality,
            is_preview=spec.preview,
            preview_seconds=preview_s,
        )
        now = timezone.now()
        tasks = []
        position = 0
        for audio in spec.audios:
            for presenter in spec.presenters:
                tasks.append(
                    RenderTask(
                        batch=batch,
                        position=position,
                        presenter=presenter,
                        audio=audio,
                        presenter_name=presenter.name[:200],
                        audio_name=audio.name[:200],
                        status=TaskStatus.QUEUED,
                        queued_at=now,
                        rq_job_id=uuid.uuid4().hex,
                        queue_name="gpu",
                        max_attempts=_setting("RENDER_MAX_ATTEMPTS", 3),
                        timeout_s=render_timeout_s(
                            audio.duration_s, presenter.duration_s, preview_s
                        ),
                    )
                )
                position += 1
        RenderTask.objects.bulk_create(tasks)
        task_ids = list(batch.tasks.values_list("pk", flat=True))
        transaction.on_commit(lambda: enqueue_tasks(task_ids))
    return batch


def enqueue_tasks(task_ids: Iterable[int]) -> None:
    for task in RenderTask.objects.filter(
        pk__in=list(task_ids), status=TaskStatus.QUEUED
    ).select_related("batch"):
        enqueue_task(task)


def _retry_for(task: RenderTask) -> Retry | None:
    left = task.max_attempts - task.attempts - 1
    if left <= 0:
        return None
    intervals = list(_setting("RENDER_RETRY_INTERVALS_S", [10, 60]))
    return Retry(max=left, interval=intervals)


def enqueue_task(task: RenderTask) -> Job:
    """Put one RQ job for ``task`` (id ``task.rq_job_id``) on its queue.

    Previews go to the front: they take seconds and someone is waiting for them.
    """
    queue = django_rq.get_queue(task.queue_name)
    return queue.enqueue(
        RENDER_FUNC,
        task.pk,
        job_id=task.rq_job_id,
        job_timeout=task.timeout_s or None,
        retry=_retry_for(task),
        result_ttl=24 * 3600,
        failure_ttl=7 * 24 * 3600,
        description=f"render task {task.pk}: {task}",
        at_front=task.batch.is_preview,
    )


def requeue_task(task: RenderTask, *, note: dict | None = None) -> bool:
    """Give ``task`` a fresh job id and enqueue it; False if the task changed meanwhile.

    ``note`` is a :func:`studio.notices.notice` record shown as the task's error meanwhile."""
    new_id = uuid.uuid4().hex
    with transaction.atomic():
        changed = RenderTask.objects.filter(pk=task.pk, rq_job_id=task.rq_job_id).update(
            status=TaskStatus.QUEUED,
            rq_job_id=new_id,
            queued_at=timezone.now(),
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
            stage="",
            percent=0.0,
            fps=None,
            eta_s=None,
            frames_done=0,
            cancel_requested=False,
            worker_name="",
            device="",
            **error_fields(note),
        )
        if not changed:
            return False
        task.refresh_from_db()
        transaction.on_commit(lambda: enqueue_task(task))
    django_rq.get_connection(task.queue_name).delete(cancel_key(task.pk))
    return True


def _rq_job(task: RenderTask) -> Job | None:
    if not task.rq_job_id:
        return None
    try:
        return Job.fetch(task.rq_job_id, connection=django_rq.get_connection(task.queue_name))
    except NoSuchJobError:
        return None


def cancel_task(task: RenderTask) -> bool:
    """Cancel a queued or running task; True if it was active.

    A queued task is cancelled at once (its RQ job too). A running one gets the flag (DB and a
    Redis key its render polls) and stops at its next batch of frames, leaving no file.
    """
    if task.status not in (TaskStatus.QUEUED, TaskStatus.RUNNING):
        return False
    connection = django_rq.get_connection(task.queue_name)
    connection.set(cancel_key(task.pk), "1", ex=7 * 24 * 3600)
    RenderTask.objects.filter(pk=task.pk).update(cancel_requested=True)
    now = timezone.now()
    done = RenderTask.objects.filter(pk=task.pk, status=TaskStatus.QUEUED).update(
        status=TaskStatus.CANCELLED,
        finished_at=now,
        stage="",
        eta_s=None,
        **error_fields(notice("cancelled", gettext_noop("Cancelled before it started."))),
    )
    if done:
        job = _rq_job(task)
        if job is not None:
            try:
                job.cancel()
            except InvalidJobOperation:
                log.info("job %s of task %s already finished or cancelled", job.id, task.pk)
    publish_fresh(task)
    return True


def cancel_batch(batch: Batch) -> int:
    """Cancel every active task of ``batch``; returns how many."""
    return sum(
        cancel_task(t)
        for t in batch.tasks.filter(status__in=[TaskStatus.QUEUED, TaskStatus.RUNNING])
    )


def retry_task(task: RenderTask) -> bool:
    """Run a failed or cancelled task again (a fresh set of attempts).

    Refused for errors a retry cannot fix (bad input, missing model weights)."""
    if task.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        return False
    if not task_retryable(task):
        raise BatchRefused(_("Trying again cannot fix this error."))
    check_free_disk()
    RenderTask.objects.filter(pk=task.pk).update(attempts=0, traceback="", output=None)
    task.refresh_from_db()
    if not requeue_task(task):
        return False
    publish_fresh(task)
    return True


def retry_failed(batch: Batch) -> int:
    """Run every failed or cancelled task of ``batch`` that a retry can help again; returns
    how many."""
    return sum(
        retry_task(t)
        for t in batch.tasks.filter(status__in=[TaskStatus.FAILED, TaskStatus.CANCELLED])
        if task_retryable(t)
    )
