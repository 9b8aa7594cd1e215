"""The face check of a presenter: the engine's *prepare* plus what it tells a person.

Measures, over the frames of the face track: the share with a face, the median face height,
and a yaw estimate from the landmarks (where the nose tip sits between the two ends of the
jaw line: 0.5 when frontal). Warnings are advice; only "no face at all" fails the presenter.
It also records the faces seen (:func:`faces_seen`), so a person can choose which one is
animated when there are several; the chosen face is the tracker's *pick*.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.utils.translation import gettext_noop
from PIL import Image

from lipsync.engines import get_engine
from lipsync.errors import InputError, LipsyncError, NoFaceError
from lipsync.faces.survey import FaceSurvey, survey_faces, tracked_number
from lipsync.media.video import open_video
from lipsync.track import FaceTrack, Pick

from ..notices import Notice, notice

#: Median face height (px) under which the face is called tiny.
TINY_FACE_PX = 80
#: |nose position - 0.5| * 2 above which a frame counts as a side face (about 35-40 degrees).
SIDE_FACE_YAW = 0.45
#: Share of face frames that must be side faces to warn.
SIDE_FACE_SHARE = 0.3
#: Share of frames with a face under which the user is warned.
FACE_SHARE_WARN = 0.9
THUMB_WIDTH = 480
#: Width of the picture the presenter page shows the faces on.
FACES_WIDTH = 960


@dataclass
class FaceCheck:
    n_frames: int
    face_share: float
    face_height_px: float | None
    face_height_ratio: float | None
    detector: str
    warnings: list[Notice] = field(default_factory=list)
    thumbnail_jpeg: bytes = b""
    #: The faces seen (:attr:`studio.models.Presenter.faces_seen`) and their frame as a JPEG;
    #: {} and b"" when the survey saw none.
    faces: dict[str, Any] = field(default_factory=dict)
    faces_jpeg: bytes = b""


def yaw_scores(landmarks: np.ndarray) -> np.ndarray:
    """Per frame 0 (frontal) .. 1 (profile), from the nose tip's place between the jaw ends."""
    left, right, nose = landmarks[:, 0, 0], landmarks[:, 16, 0], landmarks[:, 30, 0]
    span = right - left
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = (nose - left) / span
    return np.clip(np.abs(pos - 0.5) * 2.0, 0.0, 1.0)


def warnings_for(track: FaceTrack, width: int, height: int) -> tuple[list[Notice], dict[str, Any]]:
    """Warnings (code + readable message) and the measurements behind them."""
    present = np.asarray(track.present, dtype=bool)
    n = max(int(track.n_frames), 1)
    share = float(present.sum()) / n
    out: list[Notice] = []
    stats: dict = {"face_share": share, "face_height_px": None, "face_height_ratio": None}
    if present.any():
        boxes = np.asarray(track.boxes, dtype=np.float64)[present]
        heights = boxes[:, 3] - boxes[:, 1]
        median_h = float(np.nanmedian(heights))
        stats["face_height_px"] = median_h
        stats["face_height_ratio"] = median_h / max(track.height, 1)
        if median_h < TINY_FACE_PX:
            out.append(
                notice(
                    "tiny_face",
                    gettext_noop(
                        "The face is small (about %(px)d px tall); lips will look soft. "
                        "A closer shot or a larger video works better."
                    ),
                    px=round(median_h),
                )
            )
        yaw = yaw_scores(np.asarray(track.landmarks, dtype=np.float64)[present])
        yaw = yaw[np.isfinite(yaw)]
        if yaw.size and float((yaw > SIDE_FACE_YAW).mean()) >= SIDE_FACE_SHARE:
            out.append(
                notice(
                    "side_face",
                    gettext_noop(
                        "The face is turned to the side in %(pct)d%% of the frames; lip-sync works "
                        "best facing the camera."
                    ),
                    pct=round(100 * float((yaw > SIDE_FACE_YAW).mean())),
                )
            )
    if share < FACE_SHARE_WARN:
        out.append(
            notice(
                "missing_face",
                gettext_noop(
                    "No face was found in %(pct)d%% of the frames; those frames keep their "
                    "original mouth."
                ),
                pct=round(100 * (1 - share)),
            )
        )
    if max(width, height) >= 3840 or min(width, height) >= 2160:
        out.append(
            notice(
                "4k_input",
                gettext_noop(
                    "4K input (%(w)dx%(h)d): preparing and rendering take much longer; consider "
                    "capping the output at 1080p."
                ),
                w=width,
                h=height,
            )
        )
    return out, stats


def thumbnail(path: str, track) -> bytes:
    """JPEG of the first frame with a face, cropped 16:9 around it (whole frame if none)."""
    present = np.asarray(track.present, dtype=bool)
    target = int(np.argmax(present)) if present.any() else 0
    image = None
    with open_video(path) as source:
        for frame in source.frames(start=target):
            image = frame.image
            break
        if image is None:
            for frame in source:
                image = frame.image
                break
    if image is None:
        raise InputError(path, gettext_noop("no frame could be decoded"))
    h, w = image.shape[:2]
    if present.any():
        x0, y0, x1, y1 = (float(v) for v in np.asarray(track.boxes)[target])
        face_h = max(y1 - y0, 1.0)
        crop_h = min(float(h), face_h * 2.6)
        crop_w = crop_h * 16 / 9
        if crop_w > w:
            crop_w, crop_h = float(w), w * 9 / 16
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        left = int(np.clip(cx - crop_w / 2, 0, w - crop_w))
        top = int(np.clip(cy - crop_h / 2, 0, h - crop_h))
        image = image[top : top + int(crop_h), left : left + int(crop_w)]
    pil = Image.fromarray(image)
    if pil.width > THUMB_WIDTH:
        pil = pil.resize(
            (THUMB_WIDTH, max(1, round(pil.height * THUMB_WIDTH / pil.width))),
            Image.Resampling.LANCZOS,
        )
    buf = io.BytesIO()
    pil.convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


def faces_seen(path: str, track: FaceTrack) -> tuple[dict[str, Any], bytes]:
    """The faces the presenter shows (``Presenter.faces_seen``) and, when there are several,
    their frame as a JPEG to choose one on; ({}, b"") when the survey finds none. ``tracked``
    is the number of the face ``track`` follows."""
    try:
        survey: FaceSurvey | None = survey_faces(path)
    except LipsyncError:
        return {}, b""
    if survey is None:
        return {}, b""
    data = survey.to_dict()
    data["tracked"] = tracked_number(survey, track.boxes, track.present)
    if not survey.several:
        return data, b""
    pil = Image.fromarray(survey.image)
    if pil.width > FACES_WIDTH:
        pil = pil.resize(
            (FACES_WIDTH, max(1, round(pil.height * FACES_WIDTH / pil.width))),
            Image.Resampling.LANCZOS,
        )
    buf = io.BytesIO()
    pil.convert("RGB").save(buf, "JPEG", quality=85)
    return data, buf.getvalue()


def check(
    path: str,
    display_name: str,
    width: int = 0,
    height: int = 0,
    progress=None,
    cancel=None,
    pick: Pick = None,
) -> FaceCheck:
    """Run the engine's prepare (which fills the track cache) and judge the result.

    ``pick`` is the face a person chose (a point on it), None for the automatic choice. Raises
    :class:`InputError` (message under ``display_name``) when the file has no face or cannot
    be read; other engine errors (:class:`LipsyncError`) pass through unchanged.
    """
    engine = get_engine(settings.LIPSYNC_ENGINE, device="cpu", cache_dir=settings.LIPSYNC_CACHE_DIR)
    try:
        track = engine.prepare(path, pick=pick, progress=progress, cancel=cancel)
    except InputError as exc:
        raise type(exc)(display_name, exc.template, exc.params) from exc
    if not np.asarray(track.present).any():
        raise NoFaceError(display_name, gettext_noop("no face was found in any frame"))
    warnings, stats = warnings_for(track, width or track.width, height or track.height)
    faces, faces_jpeg = faces_seen(path, track)
    return FaceCheck(
        n_frames=int(track.n_frames),
        face_share=stats["face_share"],
        face_height_px=stats["face_height_px"],
        face_height_ratio=stats["face_height_ratio"],
        detector=str(track.detector),
        warnings=warnings,
        thumbnail_jpeg=thumbnail(path, track),
        faces=faces,
        faces_jpeg=faces_jpeg,
    )
