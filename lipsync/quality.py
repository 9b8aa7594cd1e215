"""The quality check of a rendered video, measured on the output alone.

Three measures, none taken from the engine that made the video (its drive signal, its face
track):

* **lip-sync confidence** (``sync``): the mouth opening found by a fresh dlib landmark pass on
  the output's frames (inner-lip gap over face height), correlated with the speech envelope
  (RMS per video frame) of the output's own sound track. Both have a 1 s moving average
  removed (slow sways and the template's steady pose do not count); the best of the lags
  -3..+3 frames is kept. About 0 means no sync, 1 perfect.
* **face share**: of the measured frames, the share where a face was found and followed.
* **mouth sharpness** (``sharpness``): how sharp the lower face is next to the eyes of the same
  frame (ratio of their Laplacian variances at a fixed width, so what the whole picture lost to
  encoding or scaling cancels out), median over the output's measured frames, divided by the
  same on the presenter's own frames. 1 is as sharp as the source; a blurred mouth (a
  low-resolution neural patch) scores well below.

They combine into a **score from 0 to 100** (:func:`combine`)::

    score = 100 * S * F * H
    S = clip((sync - 0.1) / 0.4, 0, 1)         # 0.1 or less: none; 0.5 or more: full
    F = face share                              # frames without a face cannot be checked
    H = 0.5 + 0.5 * min(1, sharpness / 0.8)     # sharpness can at most halve the score

A video below :data:`REVIEW_BELOW` (50) is one to check ("check this one"). A warp render of
real speech scores 80-100; the template with unrelated speech, or the speech shifted by a
second, scores under 20.

**Cost.** The check is budgeted so that it stays a small fraction of the render: the video is
measured in a few 4 s windows that start at key frames, so nothing outside them is decoded,
chosen where the speech is most active (:class:`QualitySettings`: 30 % of the duration, at
least 8 s, at most 40 s; when the lip sync found there is between 0.2 and 0.5, i.e. could be
noise or a weak sync, more windows follow up to 60 % of the video, at least 16 s). Inside a
window, frames no other frame refers to are not decoded at all, the landmarks run on every
second decoded frame (about every third frame), on the luma plane as decoded (no colour
conversion), and the detector runs only at the start of a window and every eighth measured
frame, on a crop. ``bench/quality_cost.py`` measures the cost
against the render side by side (``bench/RESULTS.md``).
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import cv2
import numpy as np

PathLike = str | os.PathLike[str]

#: Version of the measurement; stored with every report (a change makes old scores stale).
QUALITY_VERSION = 1
#: Lags searched between the mouth and the sound, in frames either way.
MAX_LAG = 3
#: Scores below this mark a video as one to check.
REVIEW_BELOW = 50
#: Correlation at or below which the lips count as not following the speech at all.
SYNC_FLOOR = 0.15
#: Correlation from which the lips count as fully in sync.
SYNC_FULL = 0.55
#: Sharpness ratio (output / source) from which the mouth counts as sharp.
SHARP_FULL = 0.8


# ----------------------------------------------------------------------------- signals


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average with edge replication (same length as ``x``)."""
    width = max(int(width), 1)
    if width == 1 or len(x) == 0:
        return np.asarray(x, np.float64).copy()
    pad = width // 2
    xp = np.pad(np.asarray(x, np.float64), (pad, width - 1 - pad), mode="edge")
    c = np.cumsum(np.r_[0.0, xp])
    out: np.ndarray = (c[width:] - c[:-width]) / width
    return out


def detrend(x: np.ndarray, fps: float) -> np.ndarray:
    """``x`` minus its 1 s moving average."""
    out: np.ndarray = np.asarray(x, np.float64) - moving_average(x, int(round(fps)))
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 8:
        return 0.0
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0  # a constant signal correlates with nothing
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def _prepared(mouth: np.ndarray, envelope: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Detrended (mouth, envelope) of one stretch of frames; unmeasured mouth frames are NaN.

    Missing mouth values are filled from their neighbours for the moving average only, then
    left out of the correlation again.
    """
    m = np.asarray(mouth, np.float64)
    e = np.asarray(envelope, np.float64)
    n = min(len(m), len(e))
    m, e = m[:n], e[:n]
    missing = ~np.isfinite(m)
    if missing.all() or n < 2:
        return np.full(n, np.nan), detrend(e, fps)
    if missing.any():
        idx = np.arange(n)
        m = m.copy()
        m[missing] = np.interp(idx[missing], idx[~missing], m[~missing])
    md = detrend(m, fps)
    md[missing] = np.nan
    return md, detrend(e, fps)


def sync_score_segments(
    segments: Sequence[tuple[np.ndarray, np.ndarray]], fps: float, max_lag: int = MAX_LAG
) -> tuple[float, int]:
    """(best correlation, its lag in frames) of mouth opening vs speech envelope over several
    stretches of frames (each a ``(mouth, envelope)`` pair; mouth NaN where not measured).

    Each stretch is detrended on its own; the pairs of every stretch at one lag are pooled into
    one correlation. A positive lag means the mouth follows the sound by that many frames.
    """
    prepared = [_prepared(m, e, fps) for m, e in segments]
    if sum(int(np.isfinite(md).sum()) for md, _ in prepared) < 8:
        return 0.0, 0
    best, best_lag = -1.0, 0
    for lag in range(-max_lag, max_lag + 1):
        xs, ys = [], []
        for md, ed in prepared:
            n = len(md)
            if n <= abs(lag):
                continue
            if lag >= 0:
                xs.append(md[lag:])
                ys.append(ed[: n - lag])
            else:
                xs.append(md[: n + lag])
                ys.append(ed[-lag:])
        c = _corr(np.concatenate(xs), np.concatenate(ys)) if xs else 0.0
        if c > best:
            best, best_lag = c, lag
    return best, best_lag


def sync_score(
    mouth: np.ndarray, envelope: np.ndarray, fps: float, max_lag: int = MAX_LAG
) -> tuple[float, int]:
    """(best correlation, its lag in frames) of mouth opening vs speech envelope.

    ``mouth`` may hold NaN for frames without a face; those are filled from neighbours before
    detrending and left out of the correlation. A positive lag means the mouth follows the
    sound by that many frames.
    """
    m = np.asarray(mouth, np.float64)
    if len(m) < 8 or not np.isfinite(m).any():
        return 0.0, 0
    return sync_score_segments([(m, np.asarray(envelope, np.float64))], fps, max_lag)


def frame_rms(wav: np.ndarray, sr: int, fps: float, n_frames: int) -> np.ndarray:
    """RMS of the samples under each video frame."""
    out = np.zeros(n_frames, np.float64)
    for i in range(n_frames):
        seg = wav[int(round(i * sr / fps)) : int(round((i + 1) * sr / fps))]
        if len(seg):
            out[i] = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64))))
    return out


def mouth_gap(lm: np.ndarray) -> float:
    """Inner-lip gap over face height (eyes' centre to chin) of 68 landmarks."""
    eyes = lm[36:48].mean(0)
    height = float(np.hypot(*(lm[8] - eyes)))
    gap = float(np.linalg.norm(lm[[67, 66, 65]] - lm[[61, 62, 63]], axis=1).mean())
    return gap / max(height, 1e-6)


# ----------------------------------------------------------------------------- dlib


@functools.cache
def _dlib_models() -> tuple[Any, Any]:
    """dlib's HOG detector and 68-point predictor, shared with the face tracker's."""
    from .faces.dlib_backend import shared_model

    return shared_model("hog"), shared_model("landmarks")


def _rect(box: Sequence[float]) -> Any:
    import dlib

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return dlib.rectangle(x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))


def _landmarks(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    _, predictor = _dlib_models()
    shape = predictor(image, _rect(box))
    return np.array([(p.x, p.y) for p in shape.parts()], np.float64)


class MouthMeter:
    """Fresh dlib detection + 68 landmarks on every image -> inner-lip gap / face height.

    The reference measurement of the benchmark (every frame, full detection near the previous
    face); :func:`measure_quality` is the budgeted one the studio runs after each render.
    """

    def __init__(self) -> None:
        self._detector, self._predictor = _dlib_models()
        self._prev: tuple[int, int, int, int] | None = None

    def _detect(self, image: np.ndarray) -> Any:
        """Largest face; searched near the previous one first (still a fresh detection)."""
        h, w = image.shape[:2]
        if self._prev is not None:
            x0, y0, x1, y1 = self._prev
            s = max(x1 - x0, y1 - y0)
            cx0, cy0 = max(x0 - s, 0), max(y0 - s, 0)
            cx1, cy1 = min(x1 + s, w), min(y1 + s, h)
            crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
            up = 1 if s < 110 else 0
            found = self._detector(crop, up)
            if len(found):
                r = max(found, key=lambda r: r.area())
                return _rect((r.left() + cx0, r.top() + cy0, r.right() + cx0, r.bottom() + cy0))
        found = self._detector(image, 1 if max(h, w) < 1000 else 0)
        if not len(found):
            return None
        return max(found, key=lambda r: r.area())

    def measure(self, image: np.ndarray) -> float:
        rect = self._detect(image)
        if rect is None:
            self._prev = None
            return float("nan")
        self._prev = (rect.left(), rect.top(), rect.right(), rect.bottom())
        shape = self._predictor(image, rect)
        lm = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
        return mouth_gap(lm)


def measure_mouth(frames: Iterable[np.ndarray]) -> np.ndarray:
    """:class:`MouthMeter` over every frame (NaN where no face)."""
    meter = MouthMeter()
    return np.array([meter.measure(f) for f in frames], np.float64)


def video_sync_score(
    video: PathLike, audio: PathLike, seconds: float | None = None
) -> tuple[float, int, np.ndarray, np.ndarray]:
    """Score every frame of a video file against a speech file: (score, lag, mouth, envelope).

    The benchmark's reference (slow: a detection on every frame).
    """
    import av

    from .audio import SAMPLE_RATE, load_audio

    with av.open(os.fspath(video)) as c:
        stream = c.streams.video[0]
        fps = float(stream.average_rate or 25)
        limit = int(round(seconds * fps)) if seconds else None

        def frames() -> Iterator[np.ndarray]:
            for i, fr in enumerate(c.decode(stream)):
                if limit is not None and i >= limit:
                    return
                yield fr.to_ndarray(format="rgb24")

        mouth = measure_mouth(frames())
    wav = load_audio(audio)
    env = frame_rms(wav, SAMPLE_RATE, fps, len(mouth))
    score, lag = sync_score(mouth, env, fps)
    return score, lag, mouth, env


# ----------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class QualitySettings:
    """How much of a video the check measures (its cost) and how.

    The check measures in two steps. First a share of the video (``share``, at least
    ``min_measured_s``, at most ``max_measured_s``); when the lip sync found there is neither
    clearly good nor clearly bad (``uncertain``), more windows follow, up to
    ``more_share`` of the video (at least ``more_min_s``). Most renders are clearly one or
    the other, so most checks stop after the first step.
    """

    share: float = 0.3
    min_measured_s: float = 8.0
    max_measured_s: float = 40.0
    more_share: float = 0.6
    more_min_s: float = 16.0
    more_max_s: float = 60.0
    #: Lip-sync values that ask for the second step (a correlation in this range measured on
    #: a few seconds could still be noise, or a weak sync).
    uncertain: tuple[float, float] = (0.2, 0.5)
    #: Length of one measured window (each starts at a key frame).
    window_s: float = 4.0
    #: Landmarks on every ``stride``-th decoded frame of a window (frames that no other frame
    #: refers to are not decoded: about every 1.6th frame of an x264 stream is).
    stride: int = 2
    #: Measured frames between two detector confirmations of the followed face.
    confirm_every: int = 8
    #: Measured frames between two sharpness samples.
    sharp_every: int = 3
    #: Long side of the frame for the first full-frame detection (larger passes follow only
    #: when it finds nothing).
    detect_long_side: int = 640
    #: Width the lower face is resized to before its sharpness is measured.
    sharp_width: int = 96
    #: Presenter frames sampled for the source's sharpness.
    source_samples: int = 4

    def budget(self, duration_s: float, more: bool = False) -> float:
        """Seconds of a ``duration_s`` video measured by the first step (or by both)."""
        if more:
            wanted = max(self.more_min_s, self.more_share * duration_s)
            return min(duration_s, wanted, self.more_max_s)
        wanted = max(self.min_measured_s, self.share * duration_s)
        return min(duration_s, wanted, self.max_measured_s)


@dataclass(frozen=True)
class QualityReport:
    """The measures of one video and the score they give (see the module's docstring)."""

    score: int
    needs_review: bool
    sync: float
    sync_lag_frames: int
    face_share: float
    sharpness: float | None
    frames_measured: int
    frames_total: int
    windows: int
    seconds: float
    version: int = QUALITY_VERSION
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (what the studio stores with the video)."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        for key in ("sync", "face_share", "sharpness", "seconds"):
            if data[key] is not None:
                data[key] = round(float(data[key]), 4)
        return data


def combine(
    sync: float, face_share: float, sharpness: float | None, review_below: int = REVIEW_BELOW
) -> tuple[int, bool]:
    """(score 0..100, needs review) from the three measures.

    ``sharpness`` None (no source to compare with, or no face to measure) costs nothing.
    """
    s = float(np.clip((sync - SYNC_FLOOR) / (SYNC_FULL - SYNC_FLOOR), 0.0, 1.0))
    f = float(np.clip(face_share, 0.0, 1.0))
    h = 1.0 if sharpness is None else 0.5 + 0.5 * min(1.0, max(sharpness, 0.0) / SHARP_FULL)
    score = int(round(100.0 * s * f * h))
    return score, score < review_below


# ----------------------------------------------------------------------------- frames


def _luma(frame: Any) -> np.ndarray:
    """The frame's brightness as a 2-D uint8 array: the decoded Y plane itself when the pixel
    format is 8-bit YUV (no conversion), else a grey conversion."""
    name = frame.format.name
    if name in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12"):
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        return rows[:, : frame.width]
    grey: np.ndarray = frame.to_ndarray(format="gray")
    return grey


def _rotated(image: np.ndarray, rotation: int) -> np.ndarray:
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=k)) if k else image


Window = tuple[int, int]


def plan_windows(
    n_frames: int,
    fps: float,
    keyframes: Sequence[int],
    activity: np.ndarray,
    budget_s: float,
    window_s: float = 4.0,
    taken: Sequence[Window] = (),
) -> list[Window]:
    """Frame ranges ``[start, end)`` to measure for about ``budget_s`` seconds: all of a short
    video, else windows of ``window_s`` starting at ``keyframes`` (frame indices, so nothing
    before a window needs decoding) where the speech (``activity`` per frame) is most active,
    not overlapping each other nor the ``taken`` ones. With fewer key frames than windows,
    the windows get longer.
    """
    duration = n_frames / max(fps, 1e-6)
    if budget_s <= 0:
        return []
    if budget_s >= duration - 1e-6 or not keyframes:
        if taken:
            return []
        return [(0, min(n_frames, int(round(budget_s * fps))) or n_frames)]

    def free(k: int, length: int) -> bool:
        return all(k + length <= a or k >= b for a, b in taken)

    starts = sorted({k for k in keyframes if 0 <= k < n_frames and free(k, 1)})
    if not starts:
        return []
    count = min(max(1, math.ceil(budget_s / window_s - 1e-9)), len(starts))
    length = max(1, int(round(budget_s / count * fps)))
    act = np.asarray(activity, np.float64)
    csum = np.r_[0.0, np.cumsum(act[:n_frames])]

    def speech(k: int) -> float:
        end = min(k + length, n_frames)
        return float(csum[end] - csum[k]) / max(length, 1)

    chosen: list[int] = []
    # Best speech first; a later window may not overlap an earlier one.
    for k in sorted(starts, key=lambda k: (-speech(k), k)):
        end = min(k + length, n_frames)
        if all(abs(k - c) >= length for c in chosen) and free(k, end - k):
            chosen.append(k)
        if len(chosen) == count:
            break
    return [(k, min(k + length, n_frames)) for k in sorted(chosen)]


class _Follower:
    """The face in a stream of grey frames: detected at a window's start and every few
    measured frames, followed by the landmark model in between."""

    def __init__(
        self, settings: QualitySettings, face_at: tuple[float, float] | None = None
    ) -> None:
        self.s = settings
        #: Where the animated face is (a point on it); None: the largest face.
        self.face_at = face_at
        self.lm: np.ndarray | None = None
        self.box_rel = np.zeros(4)
        self.last_box: tuple[float, float, float, float] | None = None
        self.since_confirm = 0

    # detection ---------------------------------------------------------------------------
    def _detect_scaled(
        self, image: np.ndarray, scale: float, offset: tuple[int, int] = (0, 0)
    ) -> list[tuple[float, float, float, float]]:
        detector, _ = _dlib_models()
        small = (
            image
            if abs(scale - 1.0) < 1e-3
            else cv2.resize(
                image,
                None,
                fx=scale,
                fy=scale,
                interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
            )
        )
        found = detector(np.ascontiguousarray(small), 0)
        ox, oy = offset
        return [
            (
                r.left() / scale + ox,
                r.top() / scale + oy,
                (r.right() + 1) / scale + ox,
                (r.bottom() + 1) / scale + oy,
            )
            for r in found
        ]

    def _detect_full(self, image: np.ndarray) -> list[tuple[float, float, float, float]]:
        long_side = max(image.shape[:2])
        tried: list[float] = []
        for side in (self.s.detect_long_side, 2 * self.s.detect_long_side, 2 * long_side):
            scale = min(2.0, side / long_side)
            if scale > 1.0 and long_side > 1000:
                continue  # a face too small for a 1000 px frame is not a presenter
            if any(abs(scale - t) < 0.1 * t for t in tried):
                continue
            tried.append(scale)
            found = self._detect_scaled(image, scale)
            if found:
                return found
        return []

    def _detect_near(
        self, image: np.ndarray, box: tuple[float, float, float, float]
    ) -> list[tuple[float, float, float, float]]:
        side = max(box[2] - box[0], box[3] - box[1])
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        half = 1.0 * side
        h, w = image.shape[:2]
        x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
        x1, y1 = int(min(cx + half, w)), int(min(cy + half, h))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return []
        scale = min(2.0, 100.0 / max(side, 1.0))
        return self._detect_scaled(image[y0:y1, x0:x1], scale, (x0, y0))

    def _choose(
        self, found: list[tuple[float, float, float, float]]
    ) -> tuple[float, float, float, float]:
        """The face at :attr:`face_at` (containing it, else the nearest), else the largest."""
        if self.face_at is None:
            return max(found, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        x, y = self.face_at
        inside = [b for b in found if b[0] <= x <= b[2] and b[1] <= y <= b[3]]
        if inside:
            return min(inside, key=lambda b: b[2] - b[0])
        return min(found, key=lambda b: math.hypot((b[0] + b[2]) / 2 - x, (b[1] + b[3]) / 2 - y))

    # following ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.lm = None

    def _anchor(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        lm = _landmarks(image, box)
        b = _bounds(lm)
        w, h = max(b[2] - b[0], 1.0), max(b[3] - b[1], 1.0)
        self.box_rel = (np.asarray(box) - b) / np.array([w, h, w, h])
        self.last_box = box
        self.since_confirm = 0
        self.lm = lm
        return lm

    def _box_from(self, lm: np.ndarray) -> tuple[float, float, float, float]:
        b = _bounds(lm)
        w, h = b[2] - b[0], b[3] - b[1]
        x0, y0, x1, y1 = b + self.box_rel * np.array([w, h, w, h])
        return (float(x0), float(y0), float(x1), float(y1))

    def step(self, image: np.ndarray) -> np.ndarray | None:
        """Landmarks of the face in ``image`` (a measured frame), or None when there is none."""
        if self.lm is None:
            found: list[tuple[float, float, float, float]] = []
            if self.last_box is not None:
                found = self._detect_near(image, self.last_box)
            if not found:
                found = self._detect_full(image)
            if not found:
                return None
            return self._anchor(image, self._choose(found))
        box = self._box_from(self.lm)
        lm = _landmarks(image, box)
        self.since_confirm += 1
        if _plausible(lm, self.lm) and self.since_confirm < self.s.confirm_every:
            self.lm = lm
            return lm
        found = self._detect_near(image, box)
        match = max(found, key=lambda b: _iou(b, box), default=None)
        if match is None or _iou(match, box) < 0.2:
            self.lm = None
            return None
        if _iou(match, box) >= 0.5 and _plausible(lm, self.lm):
            # Confirmed where it was followed: keep this fit (no second landmark pass).
            self.since_confirm = 0
            self.last_box = match
            self.lm = lm
            return lm
        return self._anchor(image, match)


def _bounds(lm: np.ndarray) -> np.ndarray:
    return np.array([lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()])


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _plausible(lm: np.ndarray, prev: np.ndarray) -> bool:
    a, b = _bounds(lm), _bounds(prev)
    sa, sb = max(a[2] - a[0], a[3] - a[1]), max(b[2] - b[0], b[3] - b[1])
    if sa < 4 or not 0.8 < sa / max(sb, 1e-6) < 1.25:
        return False
    ca, cb = (a[:2] + a[2:]) / 2, (b[:2] + b[2:]) / 2
    return bool(np.linalg.norm(ca - cb) < 0.25 * sb)


def _region_sharpness(
    image: np.ndarray, x0: float, y0: float, x1: float, y1: float, width: int
) -> float | None:
    """Variance of the Laplacian of a region resized to ``width`` (so it does not depend on
    the face's size in pixels)."""
    h, w = image.shape[:2]
    ix0, iy0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    ix1, iy1 = min(int(np.ceil(x1)), w), min(int(np.ceil(y1)), h)
    if ix1 - ix0 < 8 or iy1 - iy0 < 6:
        return None
    crop = image[iy0:iy1, ix0:ix1]
    if crop.ndim == 3:
        crop = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    out_w = min(width, ix1 - ix0)
    out_h = max(4, int(round((iy1 - iy0) * out_w / (ix1 - ix0))))
    small = cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(small.astype(np.float32), cv2.CV_32F).var())


def mouth_sharpness(image: np.ndarray, lm: np.ndarray, width: int = 96) -> float | None:
    """How sharp the lower face (cheeks, mouth, chin) is next to the eyes of the same frame.

    The ratio of the two regions' Laplacian variances: what the whole picture lost (encoding,
    scaling) cancels out, what only the mouth region lost (a warp's resampling, a neural
    patch of low resolution) remains. Compared with the same ratio on the presenter's frames.
    """
    lower = _region_sharpness(
        image, float(lm[4][0]), float(lm[30][1]), float(lm[12][0]), float(lm[8][1]), width
    )
    top = float(lm[17:27, 1].min())
    eyes = _region_sharpness(
        image,
        float(lm[17][0]),
        top,
        float(lm[26][0]),
        float(lm[36:48, 1].max()) + 0.3 * (float(lm[36:48, 1].max()) - top),
        width,
    )
    if lower is None or eyes is None or eyes < 1e-3:
        return None
    return lower / eyes


# ----------------------------------------------------------------------------- the check


def _keyframes(
    container: Any, stream: Any, origin: int, tb: Fraction, fps: float
) -> dict[int, int]:
    """Frame index -> pts of the video's key frames, read from the packets (nothing decoded)."""
    out: dict[int, int] = {}
    for packet in container.demux(stream):
        if packet.is_keyframe and packet.pts is not None:
            out.setdefault(int(round(float((packet.pts - origin) * tb) * fps)), int(packet.pts))
    return out


def _first_frames(
    path: PathLike, rotation: int, every_s: float, count: int
) -> Iterator[np.ndarray]:
    """Luma of up to ``count`` frames ``every_s`` seconds apart from the start of a video (or
    its one picture), rotation applied; only those frames are converted."""
    import av

    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = "NONREF"
        next_t, taken = 0.0, 0
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else next_t
            if t + 1e-3 < next_t:
                continue
            yield _rotated(_luma(frame), rotation)
            taken += 1
            next_t = t + every_s
            if taken >= count:
                return


def _source_sharpness(
    source: PathLike,
    settings: QualitySettings,
    out_size: tuple[int, int],
    last_box: tuple[float, float, float, float] | None,
    face_at: tuple[float, float] | None,
) -> float | None:
    """Median :func:`mouth_sharpness` over a few of the presenter's first frames (0.2 s
    apart). ``last_box`` (where the face was last seen on the output) and ``face_at`` (a point
    on the animated face) are in output pixels (``out_size``)."""
    from .media.probe import probe

    info = probe(source)
    kx, ky = info.width / max(out_size[0], 1), info.height / max(out_size[1], 1)
    follower = _Follower(settings, None if face_at is None else (face_at[0] * kx, face_at[1] * ky))
    if last_box is not None:
        x0, y0, x1, y1 = last_box
        follower.last_box = (x0 * kx, y0 * ky, x1 * kx, y1 * ky)
    values: list[float] = []
    for grey in _first_frames(source, info.rotation, 0.2, 2 * settings.source_samples):
        lm = follower.step(grey)
        if lm is not None:
            value = mouth_sharpness(grey, lm, settings.sharp_width)
            if value is not None:
                values.append(value)
        if len(values) >= settings.source_samples:
            break
    return float(np.median(values)) if values else None


def measure_quality(
    video: PathLike,
    *,
    source: PathLike | None = None,
    audio: PathLike | None = None,
    face_at: tuple[float, float] | None = None,
    settings: QualitySettings = QualitySettings(),
    review_below: int = REVIEW_BELOW,
) -> QualityReport:
    """Measure a rendered ``video`` (see the module's docstring).

    ``audio`` is the speech to check against (default: the video's own sound track);
    ``source`` the presenter it was made from (for the sharpness comparison; without it the
    sharpness is not judged). ``face_at`` is a point (output pixels) on the face that was
    animated, for videos with several people (default: the largest face).
    """
    import av

    from .audio import SAMPLE_RATE, load_audio, speech_activity

    t0 = time.monotonic()
    path = os.fspath(video)
    wav = load_audio(audio if audio is not None else path)
    notes: list[str] = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        codec = stream.codec_context
        out_w, out_h = int(codec.width), int(codec.height)
        tb = Fraction(stream.time_base or Fraction(1, 90000))
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        origin = stream.start_time or 0
        duration = (
            float(stream.duration * tb)
            if stream.duration
            else float(container.duration or 0) / 1_000_000
        )
        n_frames = max(int(stream.frames or round(duration * fps)), 1)
        keyframes = _keyframes(container, stream, origin, tb, fps)
        activity = speech_activity(wav, fps, n_frames)
        envelope = frame_rms(wav, SAMPLE_RATE, fps, n_frames)
        # Frames no other frame refers to are not decoded at all (about a third of an x264
        # stream's): the measure needs many instants, not every one of them.
        codec.skip_frame = "NONREF"
        run = _Run(container, stream, origin, tb, fps, envelope, _Follower(settings, face_at))
        span = n_frames / fps
        windows = plan_windows(
            n_frames, fps, sorted(keyframes), activity, settings.budget(span), settings.window_s
        )
        for window in windows:
            run.measure(window, keyframes)
        sync, lag = sync_score_segments(run.segments, fps)
        low, high = settings.uncertain
        if low <= sync < high:
            more = plan_windows(
                n_frames,
                fps,
                sorted(keyframes),
                activity,
                settings.budget(span, more=True) - settings.budget(span),
                settings.window_s,
                taken=windows,
            )
            for window in more:
                run.measure(window, keyframes)
            if more:
                windows = windows + more
                sync, lag = sync_score_segments(run.segments, fps)
    face_share = run.with_face / run.measured if run.measured else 0.0
    sharpness: float | None = None
    if source is not None and run.sharp:
        reference = _source_sharpness(
            source, settings, (out_w, out_h), run.follower.last_box, face_at
        )
        if reference is not None and reference > 1e-6:
            sharpness = float(np.median(run.sharp)) / reference
        else:
            notes.append("no face in the source's first frames: sharpness not compared")
    if float(activity.mean()) < 0.05:
        notes.append("almost no speech: the lip-sync measure has little to go on")
    score, review = combine(sync, face_share, sharpness, review_below)
    return QualityReport(
        score=score,
        needs_review=review,
        sync=float(sync),
        sync_lag_frames=int(lag),
        face_share=float(face_share),
        sharpness=sharpness,
        frames_measured=run.measured,
        frames_total=n_frames,
        windows=len(windows),
        seconds=time.monotonic() - t0,
        notes=tuple(notes),
    )


class _Run:
    """The measuring of one video, window after window: mouth openings, face share and
    sharpness samples collected so far."""

    def __init__(
        self,
        container: Any,
        stream: Any,
        origin: int,
        tb: Fraction,
        fps: float,
        envelope: np.ndarray,
        follower: _Follower,
    ) -> None:
        self.container, self.stream, self.origin, self.tb, self.fps = (
            container,
            stream,
            origin,
            tb,
            fps,
        )
        self.envelope = envelope
        self.follower = follower
        self.segments: list[tuple[np.ndarray, np.ndarray]] = []
        self.measured = self.with_face = 0
        self.sharp: list[float] = []

    def measure(self, window: Window, keyframes: dict[int, int]) -> None:
        start, end = window
        settings = self.follower.s
        mouth = np.full(end - start, np.nan)
        self.follower.reset()
        self.container.seek(
            keyframes.get(start, self.origin), stream=self.stream, backward=True, any_frame=False
        )
        decoded = 0
        frames = _decode_range(
            self.container, self.stream, self.origin, self.tb, self.fps, start, end
        )
        for i, luma in frames:
            decoded += 1
            if (decoded - 1) % settings.stride:
                continue
            lm = self.follower.step(luma)
            self.measured += 1
            if lm is None:
                continue
            self.with_face += 1
            mouth[i - start] = mouth_gap(lm)
            if self.with_face % settings.sharp_every == 1:
                value = mouth_sharpness(luma, lm, settings.sharp_width)
                if value is not None:
                    self.sharp.append(value)
        self.segments.append((mouth, self.envelope[start:end]))


def _decode_range(
    container: Any, stream: Any, origin: int, tb: Fraction, fps: float, start: int, end: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, luma) of the frames ``start <= index < end`` after a seek to the key
    frame at or before ``start``; stops decoding at ``end``."""
    for packet in container.demux(stream):
        for frame in packet.decode():
            if frame.pts is None:
                continue
            i = int(round(float((frame.pts - origin) * tb) * fps))
            if i >= end:
                return
            if i >= start:
                yield i, _luma(frame)
