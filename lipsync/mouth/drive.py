"""From per-frame speech features to per-frame mouth opening and shape.

Opening follows loudness with a fast attack and a slower release (jaws open quickly and
close a little more lazily), leads the sound by a frame (the mouth moves before the sound is
heard), and is gated by speech activity so the mouth rests closed in silence. Shape comes from
the spectral balance: dark, low-centroid sounds (o, u, w) read as rounded lips, bright ones
(i, e, s) as spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Largest inner-lip gap, in face heights, reached at full loudness.
MAX_OPEN = 0.13


@dataclass(frozen=True)
class MouthMotion:
    open: np.ndarray  # (n,) inner-lip gap / face height
    shape: np.ndarray  # (n,) -1 rounded .. +1 spread


def smooth_attack_release(x: np.ndarray, attack: float = 0.75, release: float = 0.4) -> np.ndarray:
    """One-pole follower: moves by ``attack`` of the distance when rising, ``release`` falling."""
    y = np.empty_like(x, dtype=np.float32)
    prev = 0.0
    for i, v in enumerate(np.asarray(x, np.float32)):
        k = attack if v > prev else release
        prev = prev + (float(v) - prev) * k
        y[i] = prev
    return y


def _level_range(env: np.ndarray, activity: np.ndarray | None) -> tuple[float, float]:
    """Loudness that maps to closed and to fully open lips.

    Taken from the speech itself (percentiles over speech frames), because loudness envelopes
    are usually compressed: syllables would otherwise leave the mouth hanging open.
    """
    ref = env if activity is None else env[np.asarray(activity, bool)]
    if len(ref) < 10:
        return 0.06, 0.8
    lo, hi = np.percentile(ref, [25, 97])
    lo = float(min(lo, 0.6))
    hi = float(max(hi, lo + 0.15))
    return lo, hi


def mouth_motion(
    envelope: np.ndarray,
    shape: np.ndarray | None = None,
    activity: np.ndarray | None = None,
    max_open: float = MAX_OPEN,
    lead_frames: int = 1,
) -> MouthMotion:
    """Per output frame mouth opening and shape.

    ``envelope`` is loudness in 0..1 per frame, ``shape`` -1..1 (rounded..spread) or None,
    ``activity`` a bool mask of speech frames or None.
    """
    env = np.clip(np.nan_to_num(np.asarray(envelope, np.float32)), 0.0, 1.0)
    n = len(env)
    if n == 0:
        return MouthMotion(np.zeros(0, np.float32), np.zeros(0, np.float32))
    if lead_frames > 0:
        ahead = np.concatenate([env[lead_frames:], np.repeat(env[-1:], min(lead_frames, n))])[:n]
        env = np.maximum(env * 0.6 + ahead * 0.4, ahead * 0.85)
    gate = np.ones(n, np.float32)
    if activity is not None:
        act = np.asarray(activity, bool).astype(np.float32)
        # Soften the gate's edges over two frames so onsets are not a hard step.
        gate = np.convolve(act, np.array([0.25, 0.5, 0.25], np.float32), mode="same")
        gate = np.maximum(gate, act)
    lo, hi = _level_range(env, activity)
    level = np.clip((env - lo) / (hi - lo), 0.0, 1.0) ** 1.2 * gate
    opening = smooth_attack_release(level) * max_open
    if shape is None:
        s = np.zeros(n, np.float32)
    else:
        s = np.clip(np.nan_to_num(np.asarray(shape, np.float32)), -1.0, 1.0)
        s = smooth_attack_release(s, 0.5, 0.5) if n else s
        # Shape only reads while the mouth is open; at rest the lips relax.
        s = s * np.clip(opening / (0.4 * max_open), 0.0, 1.0)
    return MouthMotion(opening.astype(np.float32), s.astype(np.float32))
