"""Mouth poses as iBUG-68 landmark sets.

Everything is measured in the face's own frame (``ex`` along the eyes, ``ey`` down the face)
and in units of the face height (eyes to chin), so the same offsets work for any face size,
in-plane rotation and resolution.

A pose is built in two steps: :func:`neutralise` closes the template's own mouth (the presenter
may be smiling with teeth showing, or talking), then :func:`speech_pose` opens it again by the
amount and shape the audio asks for. Jaw points 5-11 follow the lower lip, so chin and lip move
together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INNER_UPPER = np.array([61, 62, 63])
INNER_LOWER = np.array([67, 66, 65])
OUTER_UPPER = np.array([49, 50, 51, 52, 53])
OUTER_LOWER = np.array([59, 58, 57, 56, 55])
CORNERS = np.array([48, 54, 60, 64])
LIPS = np.arange(48, 68)
JAW_MOVING = np.array([4, 5, 6, 7, 8, 9, 10, 11, 12])
JAW_WEIGHTS = np.array([0.08, 0.3, 0.6, 0.88, 1.0, 0.88, 0.6, 0.3, 0.08], np.float32)


@dataclass(frozen=True)
class FaceFrame:
    """Origin, unit axes and scale of a face in image coordinates."""

    ex: np.ndarray
    ey: np.ndarray
    height: float
    mouth_center: np.ndarray
    mouth_width: float


def face_frame(lm: np.ndarray) -> FaceFrame:
    le = lm[36:42].mean(0)
    re = lm[42:48].mean(0)
    ex = re - le
    ex = ex / max(float(np.hypot(*ex)), 1e-6)
    ey = np.array([-ex[1], ex[0]], np.float32)
    eyes = (le + re) / 2
    height = max(float(np.dot(lm[8] - eyes, ey)), float(np.hypot(*(re - le))) * 1.2, 4.0)
    center = (lm[48] + lm[54]) / 2
    width = max(float(np.dot(lm[54] - lm[48], ex)), 1.0)
    return FaceFrame(ex.astype(np.float32), ey, height, center.astype(np.float32), width)


def inner_gap(lm: np.ndarray, ff: FaceFrame | None = None) -> float:
    """Mean inner-lip gap along the face's vertical axis, in units of face height."""
    ff = ff or face_frame(lm)
    gaps = (lm[INNER_LOWER] - lm[INNER_UPPER]) @ ff.ey
    return float(np.clip(gaps, 0, None).mean() / ff.height)


def neutralise(lm: np.ndarray) -> np.ndarray:
    """The same face with its lips closed and the jaw raised to match.

    The gap is shared 35/65 between upper and lower lip, since the jaw carries most of an
    opening; outer lips and jaw follow their inner edge so lip thickness is kept.
    """
    ff = face_frame(lm)
    out = lm.astype(np.float32).copy()
    gaps = np.clip((lm[INNER_LOWER] - lm[INNER_UPPER]) @ ff.ey, 0, None)
    g = float(gaps.mean())
    if g <= 0:
        return out
    out[INNER_UPPER] += np.outer(gaps * 0.35, ff.ey)
    out[INNER_LOWER] -= np.outer(gaps * 0.65, ff.ey)
    out[OUTER_UPPER] += np.outer(np.array([0.5, 0.8, 1.0, 0.8, 0.5]) * g * 0.3, ff.ey)
    out[OUTER_LOWER] -= np.outer(np.array([0.6, 0.9, 1.0, 0.9, 0.6]) * g * 0.65, ff.ey)
    out[JAW_MOVING] -= np.outer(JAW_WEIGHTS * g * 0.55, ff.ey)
    return out


#: Per-landmark weights of :func:`speech_pose`'s vertical moves (times the opening, along
#: ``ey``): index 0 for relaxed lips, 1 for the extra of fully rounded ones.
_OPEN_WEIGHTS = np.zeros((2, 68), np.float32)
_OPEN_WEIGHTS[0, INNER_UPPER] = -np.array([0.9, 1.0, 0.9]) * 0.22
_OPEN_WEIGHTS[1, INNER_UPPER] = np.array([0.1, 0.0, 0.1]) * 0.22
_OPEN_WEIGHTS[0, INNER_LOWER] = np.array([0.9, 1.0, 0.9]) * 0.78
_OPEN_WEIGHTS[1, INNER_LOWER] = -np.array([0.1, 0.0, 0.1]) * 0.78
_OPEN_WEIGHTS[0, OUTER_UPPER] = -np.array([0.5, 0.8, 1.0, 0.8, 0.5]) * 0.16
_OPEN_WEIGHTS[1, OUTER_UPPER] = -np.array([0.5, 0.8, 1.0, 0.8, 0.5]) * 0.08
_OPEN_WEIGHTS[0, OUTER_LOWER] = np.array([0.55, 0.9, 1.0, 0.9, 0.55]) * 0.78
_OPEN_WEIGHTS[1, OUTER_LOWER] = np.array([0.55, 0.9, 1.0, 0.9, 0.55]) * 0.08
_OPEN_WEIGHTS[0, CORNERS] = 0.3
_OPEN_WEIGHTS[0, JAW_MOVING] = JAW_WEIGHTS * 0.72


def speech_pose(
    neutral: np.ndarray, open_amount: float, shape: float, ff: FaceFrame | None = None
) -> np.ndarray:
    """Open a closed mouth by ``open_amount`` (inner gap / face height) with ``shape``.

    ``shape`` is -1 for rounded vowels (narrow, lips pushed out: thicker, rounder opening)
    and +1 for spread ones (wide, thin opening); 0 is relaxed. ``ff`` is ``neutral``'s
    :func:`face_frame`, when the caller has it already.
    """
    ff = ff or face_frame(neutral)
    out = neutral.astype(np.float32)  # a copy
    o = max(float(open_amount), 0.0) * ff.height
    s = float(np.clip(shape, -1.0, 1.0))
    # Width: spread widens, rounded narrows; a wide-open jaw pulls the corners in a little.
    dw = ff.mouth_width * (0.07 * max(s, 0) - 0.16 * max(-s, 0)) / 2 - 0.12 * o
    if dw != 0:
        rel = (out[LIPS] - ff.mouth_center) @ ff.ex / (ff.mouth_width / 2)
        out[LIPS] += np.outer(rel * dw, ff.ex)
    if o > 0:
        # Rounded lips open as an "O": the middle opens more than the sides.
        v = (_OPEN_WEIGHTS[0] + max(-s, 0.0) * _OPEN_WEIGHTS[1]) * o
        out += np.outer(v, ff.ey)
    return out
