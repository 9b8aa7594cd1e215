"""The render job (``gpu`` queue) and the output thumbnail job (``cpu`` queue).

:func:`render_task` runs in a :class:`rendering.worker.StudioWorker`: it takes the task (only if
the task is still queued under this very job id, so a cancelled or superseded job does
nothing), renders with the process's resident engine, reports progress, and records the output
as a media asset. Bad input (:class:`lipsync.errors.InputError`), a job time-out, missing
model weights and a full disk fail the task at once (a full disk with a reason that names no
path); any other error is retried by RQ while attempts remain.

A dropped database connection does not end a render: every database step of the run goes
through :func:`studio.db.reconnecting` (one more try on a fresh connection). If the database
stays away, the run's end cannot be written: the job ends, its worker moves on, and the
reconciler takes the task for lost (:mod:`rendering.reconcile`). Redis going away does not end
it either: cancel is then read from the task's row, progress only reaches the database.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db import connection as db_connection
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop
from redis import Redis
from redis.exceptions import RedisError
from rq import get_current_job
from rq.job import Job
from rq.timeouts import JobTimeoutException

from lipsync.engines import RenderOptions, RenderResult
from lipsync.errors import (
    CancelledError,
    FramesWithoutFaceError,
    InputError,
    ModelNotFoundError,
    stage_of,
)
from lipsync.progress import Progress
from lipsync.subtitles import Cue, parse_subtitles
from studio import queues
from studio.db import reconnecting
from studio.models import AudioTrack, MediaStatus, Presenter
from studio.notices import (
    Notice,
    advice_of,
    engine_stage,
    from_input_error,
    internal_error,
    notice,
    reason_of,
)
from studio.queues import QueueName
from studio.services.storage import disk_full_notice, is_disk_full

from . import lifecycle, naming
from . import worker as worker_process
from .models import MediaAsset, RenderTask, ThumbnailStatus, output_path_for
from .progress import TaskProgressReporter
from .worker import current_worker, resident_engine, worker_device

log = logging.getLogger("rendering.jobs")

#: What "internal error in %(stage)s" names for a render.
RENDER_STAGE = gettext_noop("the render")

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
    return naming.output_name(task)


class _CancelPoll:
    """The engine's ``cancel`` callback: the Redis key :func:`rendering.lifecycle.request_cancel`
    sets, polled at most every ``interval`` seconds; while Redis cannot be reached, the task
    row's ``cancel_requested`` (the truth, set first by every cancel)."""

    def __init__(self, task_id: int, connection: Redis, interval: float = 0.25) -> None:
        self.task_id = task_id
        self.key = lifecycle.cancel_key(task_id)
        self.connection = connection
        self.interval = interval
        self._last = 0.0
        self.cancelled = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self._last >= self.interval:
            self._last = now
            try:
                self.cancelled = bool(self.connection.exists(self.key))
            except RedisError:
                self.cancelled = reconnecting(self._flag_in_database)
        return self.cancelled

    def _flag_in_database(self) -> bool:
        return RenderTask.objects.filter(pk=self.task_id, cancel_requested=True).exists()


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

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def render_task(task_id: int) -> dict[str, Any]:
    """Render one task. Returns a small summary (stored as the RQ job's result)."""
    job = get_current_job()
    job_id = job.id if job is not None else ""
    worker = current_worker()
    device = worker.device if worker is not None and worker.device else worker_device()
    worker_name = worker.name if worker is not None else f"pid-{os.getpid()}"
    task = lifecycle.claim(task_id, job_id, worker=worker_name, device=device)
    if task is None:
        log.info("task %s: not queued under job %s any more; nothing to do", task_id, job_id)
        return {"task": task_id, "skipped": True}
    log.info(
        "task %s started on %s, attempt %d of %d", task.pk, device, task.attempts, task.max_attempts
    )
    batch = task.batch
    cancel = _CancelPoll(task.pk, queues.connection(QueueName(task.queue_name)))

    def write(fields: dict[str, Any]) -> bool:
        return reconnecting(lifecycle.record_progress, task.pk, job_id, **fields)

    def heartbeat() -> None:
        if worker is not None and job is not None:
            worker.keep_alive(job)

    reporter = TaskProgressReporter(task, write=write, heartbeat=heartbeat)

    def report(p: Progress) -> None:
        # Publishing reads the batch's other tasks: a lost connection is reopened there too.
        reconnecting(reporter, p)

    out_name = output_path_for(batch.team_id, batch.pk, f"{task.pk}-{uuid.uuid4().hex[:8]}.mp4")
    out_path = os.path.join(settings.MEDIA_ROOT, out_name)
    try:
        presenter_path, audio_path = _inputs(task)
        cues = _subtitles(task)

        def pulse() -> None:
            write({"heartbeat_at": timezone.now()})
            heartbeat()

        with _Pulse(pulse, max(1.0, settings.PROGRESS_HEARTBEAT_INTERVAL_S)):
            engine = resident_engine(batch.engine, device)
        write({"worker_model_loads": worker_process.engine_loads})
        reporter.beat()
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        track = engine.prepare(
            presenter_path,
            pick=task.presenter.face_pick if task.presenter else None,
            progress=_span(report, 0.0, PREPARE_SHARE),
            cancel=cancel,
        )
        reporter.beat()
        options = RenderOptions(
            max_height=batch.max_height,
            crf=batch.crf,
            duration_s=batch.preview_seconds if batch.is_preview else None,
            subtitles=cues,
            burn_subtitles=batch.burn_subtitles,
            subtitle_font=settings.LIPSYNC_SUBTITLE_FONT or None,
            timeline=batch.duration_mode,
            no_face=batch.no_face,
            match_source=batch.match_source,
        )
        result = engine.render(
            audio_path,
            presenter_path,
            track,
            out_path,
            options=options,
            progress=_span(report, PREPARE_SHARE, 1.0),
            cancel=cancel,
        )
        asset = reconnecting(_record_output, task, out_name, result)
        reconnecting(_record_untouched, task, result.frames_without_face, result.untouched_ranges)
    except CancelledError as exc:
        _remove(out_path)
        if cancel.cancelled or _ends(cancel._flag_in_database):
            log.info("task %s cancelled: %s", task.pk, exc)
            _ends(lifecycle.cancelled, task, job_id)
            return {"task": task.pk, "cancelled": True}
        log.warning("task %s taken away from this worker: %s", task.pk, exc)
        return {"task": task.pk, "superseded": True}
    except InputError as exc:
        _remove(out_path)
        _no_retry(job)
        log.info("task %s failed on bad input: %s", task.pk, exc)
        if isinstance(exc, FramesWithoutFaceError):
            _ends(_record_untouched, task, exc.frames, exc.ranges)
        _ends(lifecycle.fail, task, job_id, _readable(exc, task), traceback.format_exc())
        raise
    except JobTimeoutException:
        _remove(out_path)
        _no_retry(job)
        _ends(
            lifecycle.fail,
            task,
            job_id,
            notice(
                "timeout",
                gettext_noop("The render took longer than its time limit of %(s)d seconds."),
                s=task.timeout_s,
            ),
            traceback.format_exc(),
        )
        raise
    except ModelNotFoundError as exc:
        # The reason names server paths: it stays in the log and the admin's traceback.
        _remove(out_path)
        _no_retry(job)
        log.warning("task %s: engine %s unusable: %s", task.pk, batch.engine, exc)
        _ends(
            lifecycle.fail,
            task,
            job_id,
            notice(
                "engine_unusable",
                gettext_noop(
                    "The engine “%(engine)s” needs model weights that this server does not "
                    "have. Choose another engine or ask your administrator."
                ),
                engine=batch.engine,
            ),
            traceback.format_exc(),
        )
        raise
    except Exception as exc:
        _remove(out_path)
        if is_disk_full(exc):
            # Retrying in 10 or 60 s would meet the same full disk: fail at once with a reason
            # people can act on ("Retry" once space is freed); the path stays in the log.
            _no_retry(job)
            log.error("task %s: the disk is full: %s", task.pk, exc)
            _ends(lifecycle.fail, task, job_id, disk_full_notice(), traceback.format_exc())
            raise
        # Maybe transient (out of memory, device busy), maybe a bug: RQ retries while attempts
        # remain, unless this attempt failed exactly as the one before (a bug meets the same
        # input the same way). People see a reference to the log entry, never the exception's
        # own text.
        error = internal_error(engine_stage(exc, RENDER_STAGE), exc, log)
        fingerprint = failure_fingerprint(exc, task)
        repeated = fingerprint == task.failure_fingerprint
        retries_left = job.retries_left if job is not None else 0
        if retries_left and task.attempts < task.max_attempts and not repeated:
            _ends(
                lifecycle.retry_later,
                task,
                job_id,
                notice(
                    "retrying",
                    gettext_noop("Attempt %(n)d failed (%(why)s); trying again shortly."),
                    n=task.attempts,
                    why=error,
                ),
                traceback.format_exc(),
                in_s=float(job.get_retry_interval()) if job is not None else 0.0,
                fingerprint=fingerprint,
            )
        else:
            if repeated:
                log.warning(
                    "task %s failed as its previous attempt did (%s); not retried again",
                    task.pk,
                    fingerprint,
                )
            _no_retry(job)
            _ends(lifecycle.fail, task, job_id, error, traceback.format_exc())
        raise

    if not reconnecting(lifecycle.succeed, task, job_id, asset, reporter.task.fps):
        log.warning("task %s was taken away before it finished; dropping its output", task.pk)
        asset.delete_files()
        asset.delete()
        return {"task": task.pk, "superseded": True}
    enqueue_thumbnail(asset)
    enqueue_quality_check(asset)
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


def failure_fingerprint(exc: BaseException, task: RenderTask) -> str:
    """What makes two failures "the same": the exception's type, the engine stage it came from
    and the render's inputs (presenter and audio files, engine, output settings)."""
    batch = task.batch
    parts = (
        f"{type(exc).__module__}.{type(exc).__qualname__}",
        stage_of(exc) or "",
        (task.presenter.file.name or "") if task.presenter and task.presenter.file else "",
        (task.audio.file.name or "") if task.audio and task.audio.file else "",
        batch.engine,
        str(batch.max_height),
        str(batch.crf),
        str(batch.preview_seconds if batch.is_preview else ""),
    )
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def _ends(step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A database step at the end of a run (a transition, a last read), surviving one lost
    connection. If the database stays away the step is given up (False): the run is over, its
    worker moves on, and the reconciler takes the task for lost."""
    try:
        return reconnecting(step, *args, **kwargs)
    except DatabaseError as exc:
        log.error("database away at the end of a run (%s); left to the reconciler", exc)
        return False


def _readable(exc: InputError, task: RenderTask) -> Notice:
    """The error with the stored (random) file name replaced by the name the user gave."""
    names = {}
    for obj in (task.presenter, task.audio):
        if obj is not None and obj.file:
            names[os.path.basename(obj.file.name or "")] = obj.original_filename or obj.name
    if task.audio is not None and task.audio.subtitles:
        names[os.path.basename(task.audio.subtitles.name or "")] = task.audio.subtitles_filename
    return from_input_error(exc, names.get(os.path.basename(exc.path)))


def _no_retry(job: Job | None) -> None:
    if job is not None:
        job.retries_left = 0


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        return


#: What to do when an input of a task is gone, or failed its own check.
AGAIN = gettext_noop("upload it again and start the render again")
OPEN_IT = gettext_noop("open it in the library to see why, then upload a corrected copy")


def _failed_input(obj: Presenter | AudioTrack, fallback: str) -> InputError:
    """An InputError for a presenter or audio whose own check failed.

    Its stored error reads ``<file>: <reason>``; only the reason is kept (its translatable
    template and parameters), so the task's message names the file once and reads in each
    viewer's language.
    """
    name = obj.original_filename or obj.name
    reason = reason_of(obj.error)
    if reason is None:
        return InputError(name, fallback, {}, OPEN_IT)
    params = {k: str(v) if isinstance(v, Notice) else v for k, v in reason.params.items()}
    todo = advice_of(obj.error)
    return InputError(name, reason.template, params, todo.template if todo else OPEN_IT)


def _inputs(task: RenderTask) -> tuple[str, str]:
    """Paths of the presenter and audio; a deleted or failed input is bad input."""
    presenter, audio = task.presenter, task.audio
    if presenter is None or not presenter.file:
        raise InputError(task.presenter_name, gettext_noop("the presenter was deleted"), {}, AGAIN)
    if audio is None or not audio.file:
        raise InputError(task.audio_name, gettext_noop("the audio track was deleted"), {}, AGAIN)
    if presenter.status == MediaStatus.FAILED:
        raise _failed_input(presenter, gettext_noop("the presenter could not be prepared"))
    if audio.status == MediaStatus.FAILED:
        raise _failed_input(audio, gettext_noop("the audio track could not be read"))
    paths = []
    for obj in (presenter, audio):
        path = os.path.join(settings.MEDIA_ROOT, obj.file.name or "")
        if not os.path.exists(path):
            raise InputError(
                obj.original_filename or obj.name,
                gettext_noop("the file is missing on the server"),
                {},
                AGAIN,
            )
        paths.append(path)
    return paths[0], paths[1]


def _subtitles(task: RenderTask) -> tuple[Cue, ...]:
    """The cues of the task's audio track (none without subtitles). They were checked when
    attached; a file gone missing since is bad input."""
    audio = task.audio
    if audio is None or not audio.subtitles:
        return ()
    path = os.path.join(settings.MEDIA_ROOT, audio.subtitles.name or "")
    if not os.path.exists(path):
        raise InputError(
            audio.subtitles_filename or path,
            gettext_noop("the file is missing on the server"),
            {},
            gettext_noop("attach the subtitle file again"),
        )
    return tuple(parse_subtitles(path))


def _record_output(task: RenderTask, out_name: str, result: RenderResult) -> MediaAsset:
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
        thumbnail_status=ThumbnailStatus.PENDING,
    )


def _record_untouched(
    task: RenderTask, frames: int, ranges: tuple[tuple[float, float], ...]
) -> None:
    """Store which stretches of the output were left untouched for want of a face."""
    task.untouched_frames, task.untouched_ranges = frames, [list(r) for r in ranges]
    RenderTask.objects.filter(pk=task.pk).update(
        untouched_frames=task.untouched_frames, untouched_ranges=task.untouched_ranges
    )


#: What "internal error in %(stage)s" names for a thumbnail; its job's time limit.
THUMBNAIL_STAGE = gettext_noop("the thumbnail")
THUMBNAIL_TIMEOUT_S = 300


def enqueue_thumbnail(asset: MediaAsset) -> None:
    """Queue the thumbnail of an output (``cpu`` queue). With Redis away it stays pending and
    the reconciler sends it once Redis is back (:mod:`rendering.reconcile`)."""
    job_id = queues.new_job_id()
    MediaAsset.objects.filter(pk=asset.pk).update(
        thumbnail_status=ThumbnailStatus.PENDING,
        thumbnail_job_id=job_id,
        thumbnail_queued_at=timezone.now(),
        thumbnail_attempts=F("thumbnail_attempts") + 1,
    )
    queues.enqueue(
        QueueName.CPU,
        make_thumbnail,
        asset.pk,
        job_id=job_id,
        timeout_s=THUMBNAIL_TIMEOUT_S,
        description=f"thumbnail of media {asset.pk}",
        on_unavailable=lambda exc: log.warning(
            "thumbnail of asset %s not queued (%s); the reconciler sends it later", asset.pk, exc
        ),
    )


def make_thumbnail(asset_id: int, width: int = 480) -> str | None:
    """Write a JPEG of a frame near the first second of an output video. Every way this ends
    ends the asset's ``thumbnail_status`` (ready, or failed: the pages show a placeholder)."""
    asset = MediaAsset.objects.filter(pk=asset_id).first()
    if asset is None:
        return None
    try:
        name = _draw_thumbnail(asset, width)
    except Exception as exc:  # any failure ends the row; logged with a reference
        internal_error(THUMBNAIL_STAGE, exc, log)
        name = None
    rows = MediaAsset.objects.filter(pk=asset_id)
    if name is None:
        rows.update(thumbnail_status=ThumbnailStatus.FAILED)
    else:
        rows.update(thumbnail=name, thumbnail_status=ThumbnailStatus.READY)
    return name


def _draw_thumbnail(asset: MediaAsset, width: int) -> str | None:
    import av

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
        log.warning("no thumbnail for asset %s: %s", asset.pk, exc)
        return None
    if image is None:
        return None
    image.thumbnail((width, width))
    name = os.path.splitext(asset.file.name or "")[0] + ".jpg"
    image.convert("RGB").save(os.path.join(settings.MEDIA_ROOT, name), "JPEG", quality=85)
    return name


def enqueue_quality_check(asset: MediaAsset) -> None:
    """Queue the quality check of a finished video (not of previews) on the ``cpu`` queue,
    recording its job on the video like a thumbnail's. With Redis away the check stays pending
    and the reconciler sends it once Redis is back (:mod:`rendering.reconcile`)."""
    if asset.is_preview:
        return
    job_id = queues.new_job_id()
    MediaAsset.objects.filter(pk=asset.pk).update(
        quality_job_id=job_id,
        quality_queued_at=timezone.now(),
        quality_attempts=F("quality_attempts") + 1,
    )
    queues.enqueue(
        QueueName.CPU,
        check_quality,
        asset.pk,
        job_id=job_id,
        timeout_s=QUALITY_TIMEOUT_BASE_S + int(2 * (asset.duration_s or 0.0)),
        description=f"quality check of media {asset.pk}",
        on_unavailable=lambda exc: log.warning(
            "quality check of asset %s not queued (%s); the reconciler sends it later",
            asset.pk,
            exc,
        ),
    )


#: Time limit of a quality check: this plus two seconds per second of video (it measures a
#: quarter of the video, at most a minute of it).
QUALITY_TIMEOUT_BASE_S = 300


def check_quality(asset_id: int) -> int | None:
    """Measure a finished video and store its quality score (:mod:`rendering.services.quality`).
    Never raises for a failed measurement: the score stays empty with a logged reference."""
    from .services import quality

    return quality.check(asset_id)
