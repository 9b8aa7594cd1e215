"""Offline smoothing of landmark trajectories.

The whole track is known before anything is rendered, so a zero-phase filter (the same
low-pass run forward and backward) removes the detector's frame-to-frame jitter without the lag
a causal filter would add. Trajectories are smoothed per segment: never across frames without a
face or across scene cuts, where the motion is not continuous.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.signal import butter, sosfiltfilt

#: Cutoffs in Hz. Head motion is slow; lips move with syllables (up to ~8 Hz) and the mouth
#: opening is used later, so the mouth keeps more of its motion.
FACE_CUTOFF_HZ = 4.0
MOUTH_CUTOFF_HZ = 8.0
MOUTH_POINTS = slice(48, 68)


def segments(present: np.ndarray, cuts: Iterable[int] = ()) -> list[tuple[int, int]]:
    """Half-open (start, end) runs of ``present`` frames, also split where a cut starts a shot."""
    present = np.asarray(present, dtype=bool)
    breaks = np.zeros(len(present) + 1, dtype=bool)
    for c in cuts:
        if 0 < c < len(present):
            breaks[c] = True
    runs: list[tuple[int, int]] = []
    start = None
    for i, p in enumerate(present):
        if start is not None and (not p or breaks[i]):
            runs.append((start, i))
            start = None
        if p and start is None:
            start = i
    if start is not None:
        runs.append((start, len(present)))
    return runs


def zero_phase_lowpass(x: np.ndarray, fps: float, cutoff_hz: float, order: int = 2) -> np.ndarray:
    """Low-pass ``x`` along axis 0 forward and backward (no delay); short inputs pass through."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    nyquist = fps / 2.0
    if n < 4 or fps <= 0 or cutoff_hz >= 0.9 * nyquist:
        return x.copy()
    sos = butter(order, cutoff_hz / nyquist, output="sos")
    padlen = min(3 * (2 * len(sos) + 1), n - 1)
    y: np.ndarray = sosfiltfilt(sos, x, axis=0, padlen=padlen)
    return y


def smooth_landmarks(
    landmarks: np.ndarray,
    present: np.ndarray,
    fps: float,
    cuts: Iterable[int] = (),
    face_cutoff_hz: float = FACE_CUTOFF_HZ,
    mouth_cutoff_hz: float = MOUTH_CUTOFF_HZ,
) -> np.ndarray:
    """Smoothed copy of ``landmarks`` (n, 68, 2); frames without a face stay as they are."""
    out = np.array(landmarks, dtype=np.float32, copy=True)
    for start, end in segments(present, cuts):
        seg = np.asarray(landmarks[start:end], dtype=np.float64)
        smooth = zero_phase_lowpass(seg, fps, face_cutoff_hz)
        smooth[:, MOUTH_POINTS] = zero_phase_lowpass(seg[:, MOUTH_POINTS], fps, mouth_cutoff_hz)
        out[start:end] = smooth
    return out
