"""The quality check of a finished video (:mod:`lipsync.quality`), stored with it.

Run by :func:`rendering.jobs.check_quality` on the ``cpu`` queue after each render (a
follow-up job, not a stage of the render: the render's worker is free for the next render at
once, and a check that fails can never fail the render). A failed check leaves the score empty
and stores an "internal error, reference <id>" notice; the traceback is in the worker's log
under that reference. Previews are not checked (a person is watching them anyway).

Every database step of a run survives one lost connection (:func:`studio.db.reconnecting`).
A run that cannot end its video (worker killed, Redis flushed, the database gone at the end)
leaves the check pending with its job recorded on the video (``quality_job_id``,
``quality_queued_at``, ``quality_attempts``); the render side's reconciler judges that job by
the rule of :mod:`studio.recovery`, as it does thumbnails', and sends the check again or ends
it with a reason (:func:`rendering.reconcile.reconcile_quality_checks`): no video stays
"checking".

The manifest :func:`quality_csv` goes into every zip of videos as ``quality.csv``.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Sequence

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop
from rq import get_current_job

from lipsync.quality import measure_quality
from studio.db import reconnecting
from studio.notices import internal_error

from ..models import MediaAsset, RenderTask

log = logging.getLogger("rendering.quality")

#: What "internal error in %(stage)s" names for this check.
QUALITY_STAGE = gettext_noop("the quality check")


def check(asset_id: int) -> int | None:
    """Measure the video ``asset_id`` and store its score (None when there is none).

    Under RQ the run writes only while the video still carries its job (``quality_job_id``):
    a run the reconciler has replaced or ended does nothing."""
    job = get_current_job()
    rows = MediaAsset.objects.filter(pk=asset_id)
    if job is not None:
        rows = rows.filter(quality_job_id=job.id)
    asset = reconnecting(rows.select_related("presenter").first)
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
        reconnecting(
            rows.update,
            quality_score=None,
            quality_details={},
            quality_error=error,
            quality_checked_at=timezone.now(),
        )
        reconnecting(publish, asset.pk)
        return None
    reconnecting(
        rows.update,
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
    reconnecting(publish, asset.pk)
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


def publish(asset_id: int) -> None:
    """Show the new badge on the batch page (the task's row, over the websocket)."""
    from ..progress import publish_task

    task = RenderTask.objects.filter(output_id=asset_id).select_related("batch", "output").first()
    if task is not None:
        publish_task(task)


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
