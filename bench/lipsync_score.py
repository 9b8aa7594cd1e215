"""Lip-sync score: does the mouth in a rendered video move with the speech?

The mouth opening is measured on the *output* video by a separate landmark pass (a fresh
dlib detection and 68 points on every frame, sharing nothing with the engine's track), as the
inner-lip gap over the face height. It is correlated with the per-frame RMS of the speech after
removing a 1 s moving average from both (so slow drifts and the template's steady pose do not
count), taking the best of lags -3..+3 frames. About 0 means no sync, 1 perfect.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable

import numpy as np

MAX_LAG = 3


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average with edge replication (same length as ``x``)."""
    width = max(int(width), 1)
    if width == 1 or len(x) == 0:
        return np.asarray(x, np.float64).copy()
    pad = width // 2
    xp = np.pad(np.asarray(x, np.float64), (pad, width - 1 - pad), mode="edge")
    c = np.cumsum(np.r_[0.0, xp])
    return (c[width:] - c[:-width]) / width


def detrend(x: np.ndarray, fps: float) -> np.ndarray:
    return np.asarray(x, np.float64) - moving_average(x, int(round(fps)))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 8:
        return 0.0
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0  # a constant signal correlates with nothing
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def sync_score(
    mouth: np.ndarray, envelope: np.ndarray, fps: float, max_lag: int = MAX_LAG
) -> tuple[float, int]:
    """(best correlation, its lag in frames) of mouth opening vs speech envelope.

    ``mouth`` may hold NaN for frames without a face; those are filled from neighbours before
    detrending and left out of the correlation. A positive lag means the mouth follows the
    sound by that many frames.
    """
    m = np.asarray(mouth, np.float64)
    e = np.asarray(envelope, np.float64)
    n = min(len(m), len(e))
    m, e = m[:n], e[:n]
    missing = ~np.isfinite(m)
    if missing.all() or n < 8:
        return 0.0, 0
    if missing.any():
        idx = np.arange(n)
        m = m.copy()
        m[missing] = np.interp(idx[missing], idx[~missing], m[~missing])
    md, ed = detrend(m, fps), detrend(e, fps)
    md[missing] = np.nan
    best, best_lag = -1.0, 0
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            c = _corr(md[lag:], ed[: n - lag])
        else:
            c = _corr(md[: n + lag], ed[-lag:])
        if c > best:
            best, best_lag = c, lag
    return best, best_lag


def frame_rms(wav: np.ndarray, sr: int, fps: float, n_frames: int) -> np.ndarray:
    """RMS of the samples under each video frame."""
    out = np.zeros(n_frames, np.float64)
    for i in range(n_frames):
        seg = wav[int(round(i * sr / fps)) : int(round((i + 1) * sr / fps))]
        if len(seg):
            out[i] = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64))))
    return out


class MouthMeter:
    """Fresh dlib detection + 68 landmarks per image -> inner-lip gap / face height."""

    def __init__(self) -> None:
        import dlib

        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("face_recognition_models is not installed")
        model = os.path.join(
            spec.submodule_search_locations[0], "models", "shape_predictor_68_face_landmarks.dat"
        )
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(model)
        self._prev: tuple[int, int, int, int] | None = None

    def _detect(self, image: np.ndarray):
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
                return self._dlib.rectangle(
                    r.left() + cx0, r.top() + cy0, r.right() + cx0, r.bottom() + cy0
                )
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
        eyes = lm[36:48].mean(0)
        height = float(np.hypot(*(lm[8] - eyes)))
        gap = np.linalg.norm(lm[[67, 66, 65]] - lm[[61, 62, 63]], axis=1).mean()
        return float(gap / max(height, 1e-6))


def measure_mouth(frames: Iterable[np.ndarray]) -> np.ndarray:
    meter = MouthMeter()
    return np.array([meter.measure(f) for f in frames], np.float64)


def video_sync_score(
    video: str, audio: str, seconds: float | None = None
) -> tuple[float, int, np.ndarray, np.ndarray]:
    """Score a video file against a speech file: (score, lag, mouth, envelope)."""
    import av
    import soundfile as sf
    from scipy.signal import resample_poly

    with av.open(video) as c:
        stream = c.streams.video[0]
        fps = float(stream.average_rate or 25)
        limit = int(round(seconds * fps)) if seconds else None

        def frames():
            for i, fr in enumerate(c.decode(stream)):
                if limit is not None and i >= limit:
                    return
                yield fr.to_ndarray(format="rgb24")

        mouth = measure_mouth(frames())
    wav, sr = sf.read(audio, dtype="float32", always_2d=True)
    wav = wav.mean(1)
    if sr != 16000:
        wav = resample_poly(wav, 16000, sr).astype(np.float32)
        sr = 16000
    env = frame_rms(wav, sr, fps, len(mouth))
    score, lag = sync_score(mouth, env, fps)
    return score, lag, mouth, env
