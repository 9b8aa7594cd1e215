"""Silence stays closed: where nobody speaks, the mouth rests closed, on every engine.

Two parts, shared by all engines:

* :func:`speech_activity` – voice activity per output frame, from the 16 kHz speech alone.
  Energy in 20 ms windows every 10 ms, measured against the recording's own *noise floor*
  (a low percentile of the window levels) and its loud level (a high percentile), so a
  recording with hiss, room tone or music bed under the voice is judged by how far the voice
  stands above it, not by absolute level. Hysteresis (a window must rise well above the floor
  to start speech, and stay near it to end it), a hangover that bridges the short gaps
  between words, and removal of isolated clicks.
* :func:`silence_gate` – a 0..1 weight per frame: 1 while speaking, 0 in silence, joined by
  short raised-cosine ramps that start a little *before* the sound (lips move before the
  voice is heard) and close a little after it.

Engines apply the gate: the warp engine scales its mouth opening by it (so the mouth closes
smoothly to the neutral, closed pose); neural engines blend their redrawn face in with the
gate as strength over a :class:`MouthCloser` frame, the template with its own mouth closed by
the landmark warp. A presenter filmed talking therefore does not keep talking in the pauses,
whichever engine renders it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .composite import Compositor
from .mouth.animate import animatable, animate_mouth

SAMPLE_RATE = 16000
#: Analysis window and hop (seconds).
WINDOW_S = 0.02
HOP_S = 0.01
#: Windows quieter than this (dBFS) are silence whatever the recording.
SILENCE_DBFS = -60.0
#: Speech starts where a window rises this share of the floor-to-loud range above the floor
#: (at least ``MIN_ON_DB``), and ends once it stays below ``OFF_SHARE`` of it.
ON_SHARE = 0.45
OFF_SHARE = 0.25
MIN_ON_DB = 10.0
MIN_OFF_DB = 6.0
#: A recording whose loud level is less than this above its floor holds no speech to tell
#: apart (a steady hum, hiss or tone): all of it is silence.
MIN_RANGE_DB = 12.0
#: Speech keeps going this long after the level falls (gaps between words and syllables).
HANGOVER_S = 0.15
#: Bursts shorter than this (clicks, breaths, a knock) are not speech.
MIN_BURST_S = 0.06
#: Pauses shorter than this between two stretches of speech do not close the mouth.
MIN_PAUSE_S = 0.25
#: The gate opens this long before speech starts (and stays this long after it ends).
LEAD_S = 0.06
#: Length of the ramps between closed and speaking.
RAMP_S = 0.12


def _window_db(wav: np.ndarray, sr: int) -> np.ndarray:
    """Level (dBFS) of 20 ms windows every 10 ms."""
    x = np.asarray(wav, np.float64).reshape(-1)
    win, hop = max(1, int(round(WINDOW_S * sr))), max(1, int(round(HOP_S * sr)))
    if x.size == 0:
        return np.zeros(0)
    n = 1 + max(0, x.size - win) // hop
    csum = np.concatenate([[0.0], np.cumsum(x * x)])
    lo = np.arange(n) * hop
    hi = np.minimum(lo + win, x.size)
    power = np.maximum(csum[hi] - csum[lo], 0.0) / np.maximum(hi - lo, 1)
    db: np.ndarray = 10.0 * np.log10(power + 1e-12)
    return db


@dataclass(frozen=True)
class Thresholds:
    """Levels (dBFS) the activity decision used, for tests and diagnostics."""

    floor: float
    loud: float
    on: float
    off: float


def thresholds(db: np.ndarray) -> Thresholds | None:
    """On/off levels from the window levels, or None when nothing can be speech."""
    audible = db[db > SILENCE_DBFS]
    if audible.size < 3:
        return None
    # The floor: the quiet end of *all* windows (digital silence counts as a floor of its
    # own), the loud end of the audible ones.
    floor = max(float(np.percentile(db, 10)), SILENCE_DBFS)
    loud = float(np.percentile(audible, 95))
    span = loud - floor
    if span < MIN_RANGE_DB:
        return None
    on = floor + max(ON_SHARE * span, MIN_ON_DB)
    off = floor + max(OFF_SHARE * span, MIN_OFF_DB)
    return Thresholds(floor, loud, min(on, loud - 3.0), min(off, on - 3.0))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def window_activity(db: np.ndarray, hop_s: float = HOP_S) -> np.ndarray:
    """Speech (bool) per analysis window, from the window levels."""
    th = thresholds(db)
    out = np.zeros(db.size, bool)
    if th is None:
        return out
    hang = max(1, int(round(HANGOVER_S / hop_s)))
    state, quiet = False, 0
    for i, level in enumerate(db.tolist()):
        if not state:
            if level >= th.on:
                state, quiet = True, 0
        else:
            quiet = quiet + 1 if level < th.off else 0
            if quiet > hang:
                state = False
        out[i] = state
    # A run needs enough loud windows to be speech (a click or a knock has one or two).
    shortest = max(1, int(round(MIN_BURST_S / hop_s)))
    for a, b in _runs(out):
        if int((db[a:b] >= th.on).sum()) < shortest:
            out[a:b] = False
    pause = int(round(MIN_PAUSE_S / hop_s))
    runs = _runs(out)
    for (_, b), (c, _) in itertools.pairwise(runs):
        if c - b <= pause:
            out[b:c] = True
    return out


def speech_activity(
    wav: np.ndarray, fps: float, n_frames: int, sr: int = SAMPLE_RATE
) -> np.ndarray:
    """Whether someone speaks at each output frame (bool, ``(n_frames,)``).

    A frame counts as speech when any analysis window overlapping its interval does.
    """
    if n_frames <= 0:
        return np.zeros(0, bool)
    db = _window_db(wav, sr)
    win = window_activity(db)
    if not win.any():
        return np.zeros(n_frames, bool)
    hop = HOP_S
    starts = np.arange(win.size) * hop
    csum = np.concatenate([[0], np.cumsum(win)])
    t0 = np.arange(n_frames) / fps
    t1 = (np.arange(n_frames) + 1) / fps
    # Windows [start, start + WINDOW_S) overlapping [t0, t1).
    lo = np.searchsorted(starts, t0 - WINDOW_S, side="right")
    hi = np.searchsorted(starts, t1, side="left")
    hi = np.maximum(hi, lo)
    active: np.ndarray = (csum[np.minimum(hi, win.size)] - csum[np.minimum(lo, win.size)]) > 0
    return active


def silence_gate(
    activity: np.ndarray, fps: float, lead_s: float = LEAD_S, ramp_s: float = RAMP_S
) -> np.ndarray:
    """0..1 per frame: 1 while speaking (widened by ``lead_s`` either side), 0 in silence,
    with raised-cosine ramps of ``ramp_s`` outside the widened speech."""
    act = np.asarray(activity, bool)
    n = act.size
    if n == 0 or not act.any():
        return np.zeros(n, np.float32)
    idx = np.arange(n)
    on = idx[act]
    pos = np.searchsorted(on, idx)
    before = np.abs(idx - on[np.clip(pos - 1, 0, on.size - 1)])
    after = np.abs(on[np.clip(pos, 0, on.size - 1)] - idx)
    dist = np.minimum(before, after).astype(np.float64)  # frames to the nearest speech frame
    lead = lead_s * fps
    ramp = max(ramp_s * fps, 1.0)
    x = np.clip((dist - lead) / (ramp + 1.0), 0.0, 1.0)
    gate: np.ndarray = (0.5 + 0.5 * np.cos(np.pi * x)).astype(np.float32)
    gate[x <= 0] = 1.0
    gate[x >= 1] = 0.0
    return gate


@dataclass(frozen=True)
class SpeechGate:
    """Speech activity and the gate made from it, per output frame."""

    activity: np.ndarray
    gate: np.ndarray

    @property
    def silent_frames(self) -> int:
        return int((self.gate <= 0).sum())


def speech_gate(wav: np.ndarray, fps: float, n_frames: int, sr: int = SAMPLE_RATE) -> SpeechGate:
    """:func:`speech_activity` and :func:`silence_gate` of one render's speech."""
    act = speech_activity(wav, fps, n_frames, sr)
    return SpeechGate(act, silence_gate(act, fps))


class MouthCloser:
    """Closes the template's own mouth in a frame (the landmark warp at opening 0).

    Neural engines draw on top of it with the gate as strength, so in silence the frame
    shows the presenter with lips closed even where the template itself is talking or
    smiling open-mouthed. One per render (its compositor smooths across frames).
    """

    def __init__(self, teeth_rgb: np.ndarray | None = None) -> None:
        self.teeth = teeth_rgb
        self.comp = Compositor(extend_down=0.04, colour_match=False)
        self.closed = 0

    def close(self, image: np.ndarray, lm: np.ndarray, weight: float = 1.0) -> bool:
        """Close the mouth in ``image`` (in place) with ``weight`` 0..1; False where the
        landmarks cannot be animated (the frame is left as it is)."""
        if weight <= 0 or not animatable(lm):
            return False
        patch = animate_mouth(image, lm, 0.0, 0.0, self.teeth)
        self.comp.paste(
            image, patch.image, patch.box, np.stack([lm, patch.target]), strength=weight
        )
        self.closed += 1
        return True
