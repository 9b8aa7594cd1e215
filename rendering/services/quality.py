"""The quality check of a finished video (:mod:`lipsync.quality`), stored with it.

Run by :func:`rendering.jobs.check_quality` on the ``cpu`` queue after each render (a
follow-up job, not a stage of the render: the render's worker is free for the next render at
once, and a check that fails can never fail the render). A failed check leaves the score empty
and stores an "internal error, reference <id>" notice; the traceback is in the worker's log
under that reference. Previews are not checked (a person is watching them anyway).

The manifest :func:`quality_csv` goes into every zip of videos as ``quality.csv``.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from lipsync.quality import measure_quality
from studio.notices import internal_error, notice

from ..models import MediaAsset, RenderTask

log = logging.getLogger("rendering.quality")

#: What "internal error in %(stage)s" names for this check.
QUALITY_STAGE = gettext_noop("the quality check")


def check(asset_id: int) -> int | None:
    """Measure the video ``asset_id`` and store its score (None when there is none)."""
    asset = MediaAsset.objects.filter(pk=asset_id).select_related("presenter").first()
    if asset is None or asset.is_preview:
        return None
    presenter = asset.presenter
    source = None
    if presenter is not None and presenter.file:
        path = os.path.join(settings.MEDIA_ROOT, presenter.file.name or "")
        source = path if os.path.isfile(path) else None
    try:
        report = measure_quality(
            asset.path,
            source=source,
            face_at=_animated_face(asset),
            review_below=settings.QUALITY_REVIEW_BELOW,
        )
    except Exception as exc:  # recorded with a log reference; the video itself stays fine
        error = internal_error(QUALITY_STAGE, exc, log)
        MediaAsset.objects.filter(pk=asset.pk).update(
            quality_score=None,
            quality_details={},
            quality_error=error,
            quality_checked_at=timezone.now(),
        )
        _publish(asset.pk)
        return None
    MediaAsset.objects.filter(pk=asset.pk).update(
        quality_score=report.score,
        quality_details=report.to_dict(),
        quality_error=None,
        quality_checked_at=timezone.now(),
    )
    log.info(
        "quality of media %s: %d (sync %.2f, face %.0f%%, sharpness %s) in %.2f s",
        asset.pk,
        report.score,
        report.sync,
        100 * report.face_share,
        "-" if report.sharpness is None else f"{report.sharpness:.2f}",
        report.seconds,
    )
    _publish(asset.pk)
    return report.score


def _animated_face(asset: MediaAsset) -> tuple[float, float] | None:
    """A point on the face that was animated, in the video's pixels, when its presenter shows
    several people (the chosen face, else the one the automatic choice follows)."""
    presenter = asset.presenter
    if presenter is None or not presenter.several_faces:
        return None
    point = presenter.face_pick
    if point is None:
        number = presenter.faces_seen.get("tracked")
        boxes = presenter.faces_seen.get("boxes") or []
        if not number or not 1 <= int(number) <= len(boxes):
            return None
        x0, y0, x1, y1 = boxes[int(number) - 1]
        point = ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    scale = (asset.width or 0) / max(presenter.width or 0, 1)
    if scale <= 0:
        return None
    return (point[0] * scale, point[1] * scale)


def _publish(asset_id: int) -> None:
    """Show the new badge on the batch page (the task's row, over the websocket)."""
    from ..progress import publish_task

    task = RenderTask.objects.filter(output_id=asset_id).select_related("batch", "output").first()
    if task is not None:
        publish_task(task)


def job_id_for(asset_id: int) -> str:
    """The RQ job id of a video's check (fixed, so the reconciler can find it)."""
    return f"quality-{asset_id}"


#: RQ states of a check's job that may still produce a result.
ALIVE = (
    JobStatus.CREATED,
    JobStatus.QUEUED,
    JobStatus.STARTED,
    JobStatus.DEFERRED,
    JobStatus.SCHEDULED,
)


def settle_lost(connection: Redis, now: datetime | None = None) -> list[int]:
    """Checks still pending whose job is gone from Redis or ended without a result (its
    worker died, Redis lost it) end as failed with a reason: no video stays "being checked"
    forever. Returns the ids of those videos. Run by :func:`rendering.reconcile.reconcile`."""
    now = now or timezone.now()
    settled = []
    pending = MediaAsset.objects.filter(
        is_preview=False,
        quality_checked_at__isnull=True,
        created_at__lt=now - timedelta(seconds=settings.RECONCILE_LOST_QUEUED_S),
    ).only("pk")
    for asset in pending:
        try:
            status = Job.fetch(job_id_for(asset.pk), connection=connection).get_status()
        except NoSuchJobError:
            status = None
        if status in ALIVE:
            continue
        log.warning("quality check of media %s ended without a result (%s)", asset.pk, status)
        lost = notice(
            "quality_lost",
            gettext_noop("The quality check ended without a result (%(status)s)."),
            status=status.value if status is not None else "gone",
        )
        if MediaAsset.objects.filter(pk=asset.pk, quality_checked_at__isnull=True).update(
            quality_error=lost, quality_checked_at=now
        ):
            settled.append(asset.pk)
            _publish(asset.pk)
    return settled


#: Columns of ``quality.csv`` (one row per video of the zip).
CSV_COLUMNS = (
    "file",
    "title",
    "presenter",
    "audio",
    "quality_score",
    "verdict",
    "lip_sync",
    "face_share",
    "mouth_sharpness",
    "frames_measured",
    "note",
)


def quality_csv(assets: Sequence[MediaAsset], names: Sequence[str]) -> bytes:
    """The ``quality.csv`` manifest of a zip: one row per video under its name in the zip.

    ``verdict`` is ``ok``, ``check`` (below the threshold), ``pending`` (not measured yet),
    ``failed`` (the check failed; ``note`` holds its reference) or ``preview``. UTF-8 with a
    byte-order mark, so spreadsheet programs read Chinese names right.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    verdicts = {"ok": "ok", "review": "check", "pending": "pending", "failed": "failed"}
    for asset, name in zip(assets, names):
        details = asset.quality_details or {}

        def measure(key: str, details: dict = details) -> str:
            value = details.get(key)
            return "" if value is None else f"{float(value):.3f}"

        writer.writerow(
            [
                name,
                asset.title,
                asset.presenter.name if asset.presenter_id and asset.presenter else "",
                asset.audio.name if asset.audio_id and asset.audio else "",
                "" if asset.quality_score is None else asset.quality_score,
                verdicts.get(asset.quality_state, "preview"),
                measure("sync"),
                measure("face_share"),
                measure("sharpness"),
                details.get("frames_measured", ""),
                asset.quality_error_text,
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
