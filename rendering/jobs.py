"""The render job (``gpu`` queue) and the output thumbnail job (``cpu`` queue).

:func:`render_task` runs in a :class:`studio.worker.StudioWorker`: it takes the task (only if
the task is still queued under this very job id, so a cancelled or superseded job does
nothing), renders with the process's resident engine, reports progress, and records the output
as a media asset. Bad input (:class:`lipsync.errors.InputError`), a job time-out and missing
model weights fail the task at once; any other error is retried by RQ while attempts remain.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable

import django_rq
from django.conf import settings
from django.db import connection as db_connection
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop
from rq import get_current_job
from rq.timeouts import JobTimeoutException

from lipsync.engines import RenderOptions
from lipsync.errors import CancelledError, InputError, ModelNotFoundError
from lipsync.progress import Progress

from .. import worker as worker_process
from ..models import MediaAsset, MediaStatus, RenderTask, TaskStatus
from ..models.assets import output_path_for
from ..notices import error_fields, lipsync_error, notice
from ..progress import TaskProgressReporter, publish_fresh, publish_task, refresh_batch
from ..services.batches import cancel_key
from ..worker import current_worker, resident_engine, worker_device
from ..zipstream import safe_name

log = logging.getLogger("studio.jobs.render")

#: Share of the task's bar that preparing the presenter (face track, usually cached) takes.
PREPARE_SHARE = 0.1


def _span(callback: Callable[[Progress], None], lo: float, hi: float) -> Callable[[Progress], None]:
    """Map an operation's 0..1 ``overall`` onto ``lo..hi`` of the task."""

    def report(p: Progress) -> None:
        callback(
            Progress(
                p.stage,
                p.fraction,
                lo + (hi - lo) * p.overall,
                p.frames_done,
                p.frames_total,
                p.fps,
                p.eta_s,
            )
        )

    return report


def _download_name(task: RenderTask) -> str:
    return (
        f"{safe_name(task.presenter_name, 'presenter')}__{safe_name(task.audio_name, 'audio')}.mp4"
    )


def _finish(task: RenderTask, job_id: str, **fields) -> bool:
    """Write the task's final state if this job still owns it; publish it."""
    fields.setdefault("finished_at", timezone.now())
    fields.setdefault("eta_s", None)
    owned = RenderTask.objects.filter(
        pk=task.pk, rq_job_id=job_id, status=TaskStatus.RUNNING
    ).update(**fields)
    publish_fresh(task)
    return bool(owned)


class _CancelPoll:
    """The engine's ``cancel`` callback: a Redis key set by :func:`cancel_task`, polled at
    most every ``interval`` seconds."""

    def __init__(self, task_id: int, connection, interval: float = 0.25) -> None:
        self.key = cancel_key(task_id)
        self.connection = connection
        self.interval = interval
        self._last = 0.0
        self.cancelled = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self._last >= self.interval:
            self._last = now
            self.cancelled = bool(self.connection.exists(self.key))
        return self.cancelled


class _Pulse:
    """Heartbeats from a helper thread while a step that reports no progress runs (building
    an engine: weights, CUDA context), so the reconciler does not take a slow load for a dead
    worker."""

    def __init__(self, beat: Callable[[], None], interval_s: float) -> None:
        self.beat = beat
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="render-pulse", daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval_s):
                self.beat()
        finally:
            db_connection.close()

    def __enter__(self) -> _Pulse:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def render_task(task_id: int) -> dict:
    """Render one task. Returns a small summary (stored as the RQ job's result)."""
    job = get_current_job()
    job_id = job.id if job is not None else ""
    worker = current_worker()
    device = worker.device if worker is not None and worker.device else worker_device()
    worker_name = worker.name if worker is not None else f"pid-{os.getpid()}"
    now = timezone.now()
    claimed = RenderTask.objects.filter(
        pk=task_id,
        status=TaskStatus.QUEUED,
        rq_job_id=job_id,
        cancel_requested=False,
    ).update(
        status=TaskStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        worker_name=worker_name,
        device=device,
        attempts=F("attempts") + 1,
        stage="starting",
        percent=0.0,
        fps=None,
        eta_s=None,
        frames_done=0,
        frames_total=0,
    )
    if not claimed:
        log.info("task %s: not queued under job %s any more; nothing to do", task_id, job_id)
        return {"task": task_id, "skipped": True}

    task = RenderTask.objects.select_related("batch", "presenter", "audio").get(pk=task_id)
    log.info(
        "task %s (%s) started on %s, attempt %d of %d",
        task.pk,
        task,
        device,
        task.attempts,
        task.max_attempts,
    )
    publish_task(task)
    refresh_batch(task.batch)

    connection = django_rq.get_connection(task.queue_name)
    cancel = _CancelPoll(task.pk, connection)

    def write(fields: dict) -> bool:
        return (
            RenderTask.objects.filter(
                pk=task.pk, rq_job_id=job_id, status=TaskStatus.RUNNING
            ).update(**fields)
            == 1
        )

    def heartbeat() -> None:
        if worker is not None and job is not None:
            worker.keep_alive(job)

    reporter = TaskProgressReporter(task, write=write, heartbeat=heartbeat)
    batch = task.batch
    out_name = output_path_for(batch.team_id, batch.pk, f"{task.pk}-{uuid.uuid4().hex[:8]}.mp4")
    out_path = os.path.join(settings.MEDIA_ROOT, out_name)
    try:
        presenter_path, audio_path = _inputs(task)

        def pulse() -> None:
            write({"heartbeat_at": timezone.now()})
            heartbeat()

        with _Pulse(pulse, max(1.0, getattr(settings, "PROGRESS_HEARTBEAT_INTERVAL_S", 5.0))):
            engine = resident_engine(batch.engine, device)
        write({"worker_model_loads": worker_process.engine_loads})
        reporter.beat()
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        track = engine.prepare(
            presenter_path, progress=_span(reporter, 0.0, PREPARE_SHARE), cancel=cancel
        )
        reporter.beat()
        options = RenderOptions(
            max_height=batch.max_height,
            crf=batch.crf,
            duration_s=batch.preview_seconds if batch.is_preview else None,
        )
        result = engine.render(
            audio_path,
            presenter_path,
            track,
            out_path,
            options=options,
            progress=_span(reporter, PREPARE_SHARE, 1.0),
            cancel=cancel,
        )
        asset = _record_output(task, out_name, result)
    except CancelledError as exc:
        _remove(out_path)
        if (
            cancel.cancelled
            or RenderTask.objects.filter(pk=task.pk, cancel_requested=True).exists()
        ):
            log.info("task %s cancelled: %s", task.pk, exc)
            _finish(
                task,
                job_id,
                status=TaskStatus.CANCELLED,
                stage="",
                **error_fields(notice("cancelled", gettext_noop("Cancelled while rendering."))),
            )
            return {"task": task.pk, "cancelled": True}
        log.warning("task %s taken away from this worker: %s", task.pk, exc)
        return {"task": task.pk, "superseded": True}
    except InputError as exc:
        _remove(out_path)
        _no_retry(job)
        log.info("task %s failed on bad input: %s", task.pk, exc)
        _finish(
            task,
            job_id,
            status=TaskStatus.FAILED,
            traceback=traceback.format_exc(),
            **error_fields(_readable(exc, task)),
        )
        raise
    except JobTimeoutException:
        _remove(out_path)
        _no_retry(job)
        _finish(
            task,
            job_id,
            status=TaskStatus.FAILED,
            traceback=traceback.format_exc(),
            **error_fields(
                notice(
                    "timeout",
                    gettext_noop("The render took longer than its time limit of %(s)d seconds."),
                    s=task.timeout_s,
                )
            ),
        )
        raise
    except ModelNotFoundError as exc:
        # The reason names server paths: it stays in the log and the admin's traceback.
        _remove(out_path)
        _no_retry(job)
        log.warning("task %s: engine %s unusable: %s", task.pk, batch.engine, exc)
        _finish(
            task,
            job_id,
            status=TaskStatus.FAILED,
            traceback=traceback.format_exc(),
            **error_fields(
                notice(
                    "engine_unusable",
                    gettext_noop(
                        "The engine “%(engine)s” needs model weights that this server does not "
                        "have. Choose another engine or ask your administrator."
                    ),
                    engine=batch.engine,
                )
            ),
        )
        raise
    except Exception as exc:
        # Transient (out of memory, device busy, disk, a bug): RQ retries while attempts remain.
        _remove(out_path)
        task.refresh_from_db()
        retries_left = job.retries_left if job is not None else 0
        summary = f"{type(exc).__name__}: {exc}"
        if retries_left and task.attempts < task.max_attempts:
            RenderTask.objects.filter(
                pk=task.pk, rq_job_id=job_id, status=TaskStatus.RUNNING
            ).update(
                status=TaskStatus.QUEUED,
                stage="",
                percent=0.0,
                eta_s=None,
                fps=None,
                queued_at=timezone.now(),
                traceback=traceback.format_exc(),
                **error_fields(
                    notice(
                        "retrying",
                        gettext_noop("Attempt %(n)d failed (%(why)s); trying again shortly."),
                        n=task.attempts,
                        why=summary,
                    )
                ),
            )
            publish_fresh(task)
        else:
            _no_retry(job)
            _finish(
                task,
                job_id,
                status=TaskStatus.FAILED,
                traceback=traceback.format_exc(),
                **error_fields(
                    notice("failed", gettext_noop("The render failed: %(why)s"), why=summary)
                ),
            )
        raise

    if not _finish(
        task,
        job_id,
        status=TaskStatus.SUCCEEDED,
        stage="done",
        percent=100.0,
        output=asset,
        fps=reporter.task.fps,
        **error_fields(None),
    ):
        log.warning("task %s was taken away before it finished; dropping its output", task.pk)
        asset.delete_files()
        asset.delete()
        return {"task": task.pk, "superseded": True}
    django_rq.get_queue("cpu").enqueue(make_thumbnail, asset.pk, job_timeout=300)
    log.info(
        "task %s done: %s (%d frames, %.1f s) on %s, engine loads in this process: %d",
        task.pk,
        out_name,
        result.frames,
        result.duration_s,
        device,
        worker_process.engine_loads,
    )
    return {
        "task": task.pk,
        "asset": asset.pk,
        "frames": result.frames,
        "engine_loads": worker_process.engine_loads,
    }


def _readable(exc: InputError, task: RenderTask) -> dict:
    """The error with the stored (random) file name replaced by the name the user gave."""
    names = {}
    for obj in (task.presenter, task.audio):
        if obj is not None and obj.file:
            names[os.path.basename(obj.file.name)] = obj.original_filename or obj.name
    return lipsync_error(exc, names.get(os.path.basename(exc.path)))


def _no_retry(job) -> None:
    if job is not None:
        job.retries_left = 0


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        return


def _failed_input(obj, fallback: str) -> InputError:
    """An InputError for a presenter or audio whose own check failed.

    Its stored error reads ``<file>: <reason>``; only the reason is kept (its translatable
    template and parameters where the record has them), so the task's message names the file
    once and reads in each viewer's language.
    """
    name = obj.original_filename or obj.name
    stored = (obj.error_notice or {}).get("params", {}).get("reason")
    if isinstance(stored, dict) and stored.get("template"):
        return InputError(name, stored["template"], stored.get("params") or None)
    reason = obj.error or fallback
    prefix = f"{name}: "
    return InputError(name, reason[len(prefix) :] if reason.startswith(prefix) else reason)


def _inputs(task: RenderTask) -> tuple[str, str]:
    """Paths of the presenter and audio; a deleted or failed input is bad input."""
    presenter, audio = task.presenter, task.audio
    if presenter is None or not presenter.file:
        raise InputError(task.presenter_name, gettext_noop("the presenter was deleted"))
    if audio is None or not audio.file:
        raise InputError(task.audio_name, gettext_noop("the audio track was deleted"))
    if presenter.status == MediaStatus.FAILED:
        raise _failed_input(presenter, gettext_noop("the presenter could not be prepared"))
    if audio.status == MediaStatus.FAILED:
        raise _failed_input(audio, gettext_noop("the audio track could not be read"))
    paths = []
    for obj in (presenter, audio):
        path = os.path.join(settings.MEDIA_ROOT, obj.file.name)
        if not os.path.exists(path):
            raise InputError(
                obj.original_filename or obj.name, gettext_noop("the file is missing on the server")
            )
        paths.append(path)
    return paths[0], paths[1]


def _record_output(task: RenderTask, out_name: str, result) -> MediaAsset:
    batch = task.batch
    size = os.path.getsize(os.path.join(settings.MEDIA_ROOT, out_name))
    return MediaAsset.objects.create(
        team_id=batch.team_id,
        project_id=batch.project_id,
        batch=batch,
        task=task,
        presenter=task.presenter,
        audio=task.audio,
        title=f"{task.presenter_name} × {task.audio_name}"[:255],
        download_name=_download_name(task),
        file=out_name,
        duration_s=result.duration_s,
        size_bytes=size,
        width=result.width,
        height=result.height,
        fps=result.fps,
        engine=batch.engine,
        is_preview=batch.is_preview,
        created_by=batch.created_by,
    )


def make_thumbnail(asset_id: int, width: int = 480) -> str | None:
    """Write a JPEG of a frame near the first second of an output video."""
    import av

    asset = MediaAsset.objects.filter(pk=asset_id).first()
    if asset is None:
        return None
    try:
        with av.open(asset.path) as container:
            stream = container.streams.video[0]
            wanted = min(1.0, (asset.duration_s or 0.0) / 2)
            image = None
            for frame in container.decode(stream):
                image = frame.to_image()
                if frame.time is not None and frame.time >= wanted:
                    break
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        log.warning("no thumbnail for asset %s: %s", asset_id, exc)
        return None
    if image is None:
        return None
    image.thumbnail((width, width))
    name = os.path.splitext(asset.file.name)[0] + ".jpg"
    image.convert("RGB").save(os.path.join(settings.MEDIA_ROOT, name), "JPEG", quality=85)
    MediaAsset.objects.filter(pk=asset_id).update(thumbnail=name)
    return name
