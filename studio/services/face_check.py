"""The face check of a presenter: the engine's *prepare* plus what it tells a person.

Measures, over the frames of the face track: the share with a face, the median face height,
and a yaw estimate from the landmarks (where the nose tip sits between the two ends of the
jaw line: 0.5 when frontal). Warnings are advice; only "no face at all" fails the presenter.
It also records the faces seen (:func:`faces_seen`), so a person can choose which one is
animated when there are several; the chosen face is the tracker's *pick*.

It ends with a short real render (:func:`trial_render`: half a second of a tone through the
render pipeline, into a temporary file), so a presenter the render would fail on (an odd frame
size, a pixel format the frame cache or the encoder refuses) fails here with its reason and is
never "Ready".
"""

from __future__ import annotations

import io
import os
import tempfile
import wave
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.utils.translation import gettext_noop
from PIL import Image

from lipsync.engines import Engine, RenderOptions, get_engine
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


#: The trial render: its length (seconds of speech) and the output height it is capped at.
TRIAL_SECONDS = 0.5
TRIAL_MAX_HEIGHT = 1080


def trial_wav(path: str, seconds: float = TRIAL_SECONDS, rate: int = 16000) -> None:
    """A short mono WAV: a 180 Hz tone rising and falling (a syllable's envelope), then quiet,
    so both a speaking and a resting mouth are drawn."""
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.clip(np.sin(np.pi * t / (seconds * 0.6)), 0.0, None) * (t < seconds * 0.6)
    samples = (0.3 * envelope * np.sin(2 * np.pi * 180.0 * t) * 32767).astype("<i2")
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


def trial_render(engine: Engine, path: str, track: FaceTrack, cancel=None) -> None:
    """Render the first half second of the presenter (decode, frame cache, mouth, encode) into
    a temporary file, and delete it: raises what the real render would raise on this file.

    The configured engine is used when it needs no model weights; a neural one is replaced by
    the weight-free ``warp`` engine (face checks run on CPU workers, which never load weights;
    what the trial is for, the presenter's frames through decode, frame cache and encoder, is
    the same for every engine). Output taller than 1080 lines is capped at 1080 to keep the cost
    small (about a second on a CPU for 1080p).
    """
    if engine.needs_weights:
        engine = get_engine("warp", device="cpu", cache_dir=engine.cache_dir)
    with tempfile.TemporaryDirectory(prefix="heygem-trial-") as folder:
        audio = os.path.join(folder, "trial.wav")
        trial_wav(audio)
        options = RenderOptions(
            duration_s=TRIAL_SECONDS,
            max_height=TRIAL_MAX_HEIGHT if track.height > TRIAL_MAX_HEIGHT else None,
            preset="ultrafast",
            x264_params=None,
            crf=35,
        )
        engine.render(
            audio, path, track, os.path.join(folder, "trial.mp4"), options=options, cancel=cancel
        )


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
        raise type(exc)(display_name, exc.template, exc.params, exc.advice_template) from exc
    if not np.asarray(track.present).any():
        raise NoFaceError(display_name, gettext_noop("no face was found in any frame"))
    try:
        trial_render(engine, path, track, cancel=cancel)
    except InputError as exc:
        raise type(exc)(display_name, exc.template, exc.params, exc.advice_template) from exc
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
