"""Background jobs of the libraries, run on the ``cpu`` RQ queue.

* :func:`check_presenter`: the engine's *prepare* (face track, cached in the TrackCache so
  renders skip detection), then face statistics, warnings and a thumbnail.
* :func:`analyse_audio`: duration, waveform picture, warnings (clipping, long silence,
  music-like input).
"""
from __future__ import annotations

import logging
import os
from typing import Callable

from django.core.files.base import ContentFile
from django.utils import timezone

from lipsync.errors import LipsyncError

from ..models import AudioTrack, MediaStatus, Presenter
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
            func, obj.pk, job_timeout=timeout)
    except RedisError as exc:
        log.error("could not queue %s for %s %s: %s", func.__name__, type(obj).__name__,
                  obj.pk, exc)
        type(obj).objects.filter(pk=obj.pk).update(
            status=MediaStatus.FAILED,
            error=f"{obj.original_filename}: the background queue is not reachable "
                  f"({exc.__class__.__name__}); try the check again later")
        return
    type(obj).objects.filter(pk=obj.pk).update(job_id=job.id or "")


def enqueue_presenter_check(presenter_id: int) -> None:
    presenter = Presenter.objects.get(pk=presenter_id)
    _enqueue(check_presenter, presenter, timeout=6 * 3600)


def enqueue_audio_analysis(audio_id: int) -> None:
    track = AudioTrack.objects.get(pk=audio_id)
    _enqueue(analyse_audio, track, timeout=3600)


def check_presenter(presenter_id: int) -> str:
    """Face-check one presenter and store the result on its row. Returns the final status."""
    presenter = Presenter.objects.filter(pk=presenter_id).first()
    if presenter is None:
        return "gone"
    path = presenter.file.path
    log.info("face check of presenter %s (%s)", presenter.pk, presenter.original_filename)
    try:
        result = face_check.check(path, display_name=presenter.original_filename,
                                  width=presenter.width or 0, height=presenter.height or 0)
    except LipsyncError as exc:
        Presenter.objects.filter(pk=presenter.pk).update(
            status=MediaStatus.FAILED, error=str(exc), prepared_at=timezone.now())
        log.info("presenter %s failed: %s", presenter.pk, exc)
        return MediaStatus.FAILED
    thumb_name = f"{presenter.team_id}/{os.path.basename(presenter.file.name)}.jpg"
    if presenter.thumbnail:
        presenter.thumbnail.storage.delete(presenter.thumbnail.name)
    presenter.thumbnail.save(thumb_name, ContentFile(result.thumbnail_jpeg), save=False)
    Presenter.objects.filter(pk=presenter.pk).update(
        status=MediaStatus.READY, error="", face_share=result.face_share,
        face_height_px=result.face_height_px, face_height_ratio=result.face_height_ratio,
        frames_total=result.n_frames, detector=result.detector, warnings=result.warnings,
        thumbnail=presenter.thumbnail.name, prepared_at=timezone.now())
    log.info("presenter %s ready: face in %.0f%% of %d frames", presenter.pk,
             100 * result.face_share, result.n_frames)
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
        AudioTrack.objects.filter(pk=track.pk).update(status=MediaStatus.FAILED, error=str(exc))
        return MediaStatus.FAILED
    name = f"{track.project.team_id}/{os.path.basename(track.file.name)}.png"
    if track.waveform:
        track.waveform.storage.delete(track.waveform.name)
    track.waveform.save(name, ContentFile(result.waveform_png), save=False)
    AudioTrack.objects.filter(pk=track.pk).update(
        status=MediaStatus.READY, error="", duration_s=result.duration_s,
        waveform=track.waveform.name, stats=result.stats, warnings=result.warnings)
    return MediaStatus.READY

