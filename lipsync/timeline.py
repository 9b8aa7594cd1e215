"""Which presenter frame goes with each output frame.

The output always lasts exactly as long as the speech. When the speech outlasts the presenter
clip, the clip plays forward and then backward ("pingpong", no jump cut) or restarts
("loop"); when the speech is shorter the clip is simply cut.
"""

from __future__ import annotations

import math

import numpy as np

MODES = ("pingpong", "loop")


def n_output_frames(duration_s: float, fps: float) -> int:
    """Frames needed to cover ``duration_s`` at ``fps``: round(duration x fps), halves up."""
    if duration_s < 0 or not fps > 0:
        raise ValueError(f"need duration >= 0 and fps > 0, got {duration_s}, {fps}")
    return int(math.floor(duration_s * fps + 0.5))


def frame_schedule(n_source: int, n_output: int, mode: str = "pingpong") -> np.ndarray:
    """Source frame index for each of ``n_output`` output frames (int64 array).

    ``pingpong`` goes 0, 1, ..., n-1, n-2, ..., 1, 0, 1, ... so no frame repeats at a turn;
    ``loop`` goes 0..n-1, 0..n-1, ... A one-frame source (a still photo) gives all zeros.
    """
    if mode not in MODES:
        raise ValueError(f"unknown timeline mode {mode!r}; use one of {', '.join(MODES)}")
    if n_source < 1:
        raise ValueError(f"the presenter has no frames (n_source={n_source})")
    if n_output < 0:
        raise ValueError(f"n_output must be >= 0, got {n_output}")
    i = np.arange(n_output, dtype=np.int64)
    if n_source == 1:
        return np.zeros(n_output, np.int64)
    if mode == "loop":
        return i % n_source
    period = 2 * (n_source - 1)
    k = i % period
    return np.where(k < n_source, k, period - k)
