"""Which presenter frame goes with each output frame, and how long the output lasts.

When the speech is shorter than the presenter clip, the clip is simply cut at the speech's end.
When the speech outlasts the clip, the *duration mode* decides:

- ``bounce`` (default; ``pingpong`` is its old name): the clip plays forward, then backward,
  and so on, with no jump cut; the output lasts as long as the speech.
- ``loop``: the clip restarts from its first frame; the output lasts as long as the speech.
- ``cut``: the output ends with the clip's last frame; the speech is cut there too.
- ``hold``: the clip plays once, then its last frame stays on screen until the speech ends.

A still photo has no end to reach: in every mode it stays on screen for the whole speech.
"""

from __future__ import annotations

import math

import numpy as np

BOUNCE, LOOP, CUT, HOLD = "bounce", "loop", "cut", "hold"
#: The duration modes, default first.
DURATION_MODES = (BOUNCE, LOOP, CUT, HOLD)
#: Old names still accepted.
ALIASES = {"pingpong": BOUNCE}
#: Every name :func:`frame_schedule` accepts.
MODES = (*DURATION_MODES, *ALIASES)


def duration_mode(mode: str) -> str:
    """The canonical name of ``mode`` (``pingpong`` is ``bounce``); ValueError if unknown."""
    name = ALIASES.get(mode, mode)
    if name not in DURATION_MODES:
        raise ValueError(f"unknown duration mode {mode!r}; use one of {', '.join(DURATION_MODES)}")
    return name


def n_output_frames(duration_s: float, fps: float) -> int:
    """Frames needed to cover ``duration_s`` at ``fps``: round(duration x fps), halves up."""
    if duration_s < 0 or not fps > 0:
        raise ValueError(f"need duration >= 0 and fps > 0, got {duration_s}, {fps}")
    return int(math.floor(duration_s * fps + 0.5))


def planned_frames(n_source: int, n_speech: int, mode: str = BOUNCE, still: bool = False) -> int:
    """How many frames the output has for ``n_speech`` frames of speech: all of them, except
    in ``cut`` mode where a video (not a still) ends the output at its last frame."""
    if duration_mode(mode) == CUT and not still and n_source >= 1:
        return min(n_speech, n_source)
    return n_speech


def frame_schedule(n_source: int, n_output: int, mode: str = BOUNCE) -> np.ndarray:
    """Source frame index for each of ``n_output`` output frames (int64 array).

    ``bounce`` goes 0, 1, ..., n-1, n-2, ..., 1, 0, 1, ... so no frame repeats at a turn;
    ``loop`` goes 0..n-1, 0..n-1, ...; ``hold`` goes 0..n-1, n-1, n-1, ...; ``cut`` plays
    0..n-1 (:func:`planned_frames` keeps ``n_output`` within the clip; past it, it holds).
    A one-frame source (a still photo) gives all zeros.
    """
    mode = duration_mode(mode)
    if n_source < 1:
        raise ValueError(f"the presenter has no frames (n_source={n_source})")
    if n_output < 0:
        raise ValueError(f"n_output must be >= 0, got {n_output}")
    i = np.arange(n_output, dtype=np.int64)
    if n_source == 1:
        return np.zeros(n_output, np.int64)
    if mode == LOOP:
        return i % n_source
    if mode in (HOLD, CUT):
        return np.minimum(i, n_source - 1)
    period = 2 * (n_source - 1)
    k = i % period
    return np.where(k < n_source, k, period - k)


def time_ranges(flags: np.ndarray, fps: float) -> tuple[tuple[float, float], ...]:
    """The (start, end) seconds of each run of true ``flags`` (one per output frame), a frame
    counting from its own start to the next one's; rounded to milliseconds."""
    f = np.asarray(flags, bool)
    if not f.any():
        return ()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], f.astype(np.int8), [0]])))
    return tuple(
        (round(int(a) / fps, 3), round(int(b) / fps, 3)) for a, b in zip(edges[::2], edges[1::2])
    )


def format_ranges(ranges: tuple[tuple[float, float], ...], most: int = 5) -> str:
    """``0.00–1.20 s, 3.40–5.04 s``: the first ``most`` ranges, then an ellipsis."""
    shown = ", ".join(f"{a:.2f}–{b:.2f} s" for a, b in ranges[:most])
    return shown + (", …" if len(ranges) > most else "")
