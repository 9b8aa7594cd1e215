"""Background jobs of the libraries, run on the ``cpu`` RQ queue.

* :func:`check_presenter`: the engine's *prepare* (face track, cached in the TrackCache so
  renders skip detection), then face statistics, warnings and a thumbnail.
* :func:`analyse_audio`: duration, waveform picture, warnings (clipping, long silence,
  music-like input).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.translation import gettext_noop

from lipsync.errors import LipsyncError

from ..models import AudioTrack, MediaStatus, Presenter
from ..notices import error_fields, lipsync_error, notice
from ..services import audio_analysis, face_check

log = logging.getLogger("studio.jobs")

QUEUE = "cpu"


def _enqueue(func: Callable, obj, timeout: int) -> None:
    """Queue ``func(obj.pk)``; if Redis cannot be reached the object fails with the reason."""
    import django_rq
    from redis.exceptions import RedisError

    try:
        # Callers already wait for the commit (transaction.on_commit): enqueue now.
        job = django_rq.get_queue(QUEUE, commit_mode="auto").enqueue(
            func, obj.pk, job_timeout=timeout
        )
    except RedisError as exc:
        log.error(
            "could not queue %s for %s %s: %s", func.__name__, type(obj).__name__, obj.pk, exc
        )
        type(obj).objects.filter(pk=obj.pk).update(
            status=MediaStatus.FAILED,
            **error_fields(
                notice(
                    "queue_unreachable",
                    gettext_noop(
                        "%(file)s: the background queue is not reachable (%(why)s); try the check "
                        "again later"
                    ),
                    file=obj.original_filename,
                    why=exc.__class__.__name__,
                )
            ),
        )
        return
    type(obj).objects.filter(pk=obj.pk).update(job_id=job.id or "")


def enqueue_presenter_check(presenter_id: int) -> None:
    presenter = Presenter.objects.get(pk=presenter_id)
    _enqueue(check_presenter, presenter, timeout=6 * 3600)


def enqueue_audio_analysis(audio_id: int) -> None:
    track = AudioTrack.objects.get(pk=audio_id)
    _enqueue(analyse_audio, track, timeout=3600)


def _failed(obj, exc: LipsyncError, **fields) -> str:
    """Mark the row failed with the engine's reason (kept untranslated, see studio.notices)."""
    type(obj).objects.filter(pk=obj.pk).update(
        status=MediaStatus.FAILED, **error_fields(lipsync_error(exc)), **fields
    )
    return MediaStatus.FAILED


def _ready(obj, file_field: str, name: str, content: bytes, **fields) -> str:
    """Store the check's picture as ``obj.<file_field>`` (removing the one a re-check
    replaces) and mark the row ready with ``fields``."""
    field_file = getattr(obj, file_field)
    if field_file:
        field_file.storage.delete(field_file.name)
    field_file.save(name, ContentFile(content), save=False)
    type(obj).objects.filter(pk=obj.pk).update(
        status=MediaStatus.READY, **error_fields(None), **{file_field: field_file.name}, **fields
    )
    return MediaStatus.READY


def check_presenter(presenter_id: int) -> str:
    """Face-check one presenter and store the result on its row. Returns the final status."""
    presenter = Presenter.objects.filter(pk=presenter_id).first()
    if presenter is None:
        return "gone"
    path = presenter.file.path
    log.info("face check of presenter %s (%s)", presenter.pk, presenter.original_filename)
    try:
        result = face_check.check(
            path,
            display_name=presenter.original_filename,
            width=presenter.width or 0,
            height=presenter.height or 0,
        )
    except LipsyncError as exc:
        log.info("presenter %s failed: %s", presenter.pk, exc)
        return _failed(presenter, exc, prepared_at=timezone.now())
    _ready(
        presenter,
        "thumbnail",
        f"{presenter.team_id}/{os.path.basename(presenter.file.name)}.jpg",
        result.thumbnail_jpeg,
        face_share=result.face_share,
        face_height_px=result.face_height_px,
        face_height_ratio=result.face_height_ratio,
        frames_total=result.n_frames,
        detector=result.detector,
        warnings=result.warnings,
        prepared_at=timezone.now(),
    )
    log.info(
        "presenter %s ready: face in %.0f%% of %d frames",
        presenter.pk,
        100 * result.face_share,
        result.n_frames,
    )
    return MediaStatus.READY


def analyse_audio(audio_id: int) -> str:
    """Analyse one audio track and store the result on its row. Returns the final status."""
    track = AudioTrack.objects.filter(pk=audio_id).select_related("project").first()
    if track is None:
        return "gone"
    log.info("analysing audio %s (%s)", track.pk, track.original_filename)
    try:
        result = audio_analysis.analyse(track.file.path, display_name=track.original_filename)
    except LipsyncError as exc:
        return _failed(track, exc)
    return _ready(
        track,
        "waveform",
        f"{track.project.team_id}/{os.path.basename(track.file.name)}.png",
        result.waveform_png,
        duration_s=result.duration_s,
        stats=result.stats,
        warnings=result.warnings,
    )
