"""Measures of a drawn mouth interior, for the tests and the close-up artifacts.

The warp engine's mouth for one presenter frame is drawn at a given opening with
:func:`lipsync.mouth.animate.animate_mouth`; its target inner-lip landmarks give the opening's
outline, so the interior's pixels are known exactly (no encoding, no second landmark pass).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lipsync.mouth.animate import animate_mouth
from lipsync.mouth.drive import MAX_OPEN
from lipsync.mouth.interior import lip_colour, smooth_closed


@dataclass(frozen=True)
class Interior:
    frame: np.ndarray  # the frame with the mouth drawn (RGB)
    inside: np.ndarray  # bool mask of the opening (frame size)
    border: np.ndarray  # bool mask of a thin band along the opening's outline
    lips: np.ndarray  # the presenter's lip colour (RGB)
    skin: np.ndarray  # the presenter's skin colour around the mouth (RGB)
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 around the mouth, for close-ups


def draw(image: np.ndarray, lm: np.ndarray, opening: float = 0.75, shape: float = 0.0):
    """The frame with the mouth opened to ``opening`` of the widest speech pose."""
    frame = image.copy()
    patch = animate_mouth(frame, lm, opening * MAX_OPEN, shape)
    x0, y0, x1, y1 = patch.box
    frame[y0:y1, x0:x1] = patch.image
    inner = smooth_closed(patch.target[60:68])
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(inner * 4).astype(np.int32)], 1, shift=2)
    inside = cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0
    ring = cv2.dilate(mask, np.ones((5, 5), np.uint8)) - cv2.erode(mask, np.ones((5, 5), np.uint8))
    face_h = float(np.linalg.norm(lm[8] - lm[27]))
    cx, cy = patch.target[48:68].mean(0)
    box = (
        int(max(cx - 0.45 * face_h, 0)),
        int(max(cy - 0.25 * face_h, 0)),
        int(min(cx + 0.45 * face_h, frame.shape[1])),
        int(min(cy + 0.25 * face_h, frame.shape[0])),
    )
    return Interior(frame, inside, ring > 0, lip_colour(image, lm), skin_colour(image, lm), box)


def skin_colour(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Median colour of the cheeks beside the nose (no lips, no beard line)."""
    h = float(np.linalg.norm(lm[8] - lm[27]))
    pts = []
    for a, b in ((2, 31), (14, 35)):
        c = (lm[a] + lm[b]) / 2
        x0, y0 = (c - 0.06 * h).astype(int)
        x1, y1 = (c + 0.06 * h).astype(int)
        pts.append(image[max(y0, 0) : y1, max(x0, 0) : x1].reshape(-1, 3))
    return np.median(np.vstack(pts), axis=0).astype(np.float32)


def lab(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab (L 0..100) of RGB values (..., 3) in 0..255."""
    arr = np.asarray(rgb, np.float32).reshape(-1, 1, 3) / 255.0
    return cv2.cvtColor(arr, cv2.COLOR_RGB2LAB).reshape(np.shape(rgb))


def hue_deg(lab_value: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(lab_value[2], lab_value[1])))


def hue_gap(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def tones(m: Interior) -> dict[str, float]:
    """Colour statistics of the opening: the cavity (pixels darker than the lips) and the
    teeth (pixels brighter than the lips), against the presenter's lips and skin."""
    pix = m.frame[m.inside].astype(np.float32)
    px_lab = lab(pix)
    lips_lab, skin_lab = lab(m.lips), lab(m.skin)
    cavity = px_lab[px_lab[:, 0] < lips_lab[0] - 3]
    teeth = px_lab[px_lab[:, 0] > lips_lab[0] + 3]
    out = {
        "cavity_share": len(cavity) / max(len(px_lab), 1),
        "teeth_share": len(teeth) / max(len(px_lab), 1),
    }
    if len(cavity):
        c = cavity.mean(0)
        out["cavity_hue_gap"] = hue_gap(hue_deg(c), hue_deg(lips_lab))
        out["cavity_chroma"] = float(np.hypot(c[1], c[2]))
    if len(teeth):
        t = teeth.mean(0)
        out["teeth_hue_gap"] = hue_gap(hue_deg(t), hue_deg(skin_lab))
        out["teeth_L_over_skin"] = float(t[0] - skin_lab[0])
        out["teeth_chroma_ratio"] = float(np.hypot(t[1], t[2]) / max(np.hypot(*skin_lab[1:]), 1))
    return out


def _grey(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _lower_border(m: Interior) -> np.ndarray:
    """The outline band below the opening's middle: where the cavity meets the lower lip
    (the upper teeth hang from the upper lip, so their edge is not counted)."""
    ys, _xs = np.nonzero(m.inside)
    middle = (ys.min() + ys.max()) / 2.0
    rows = np.arange(m.border.shape[0])[:, None]
    return m.border & (rows > middle)


def edge_gradient(m: Interior) -> float:
    """The 90th percentile of the brightness gradient (Sobel, per pixel) where the cavity meets
    the lower lip, over the lips' brightness: how hard that edge is."""
    grey = _grey(m.frame)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    mag = np.hypot(gx, gy)[_lower_border(m)]
    return float(np.percentile(mag, 90) / max(float(_grey(m.lips)), 1.0))


def rim_darkness(m: Interior) -> float:
    """How much darker than the lips the opening is just inside its lower edge (median of a
    two-pixel band, 0: as bright as the lips, 1: black): a dark outline scores high."""
    inside = m.inside.astype(np.uint8)
    band = (inside - cv2.erode(inside, np.ones((5, 5), np.uint8))) > 0
    band &= _lower_border(m) | (cv2.dilate(_lower_border(m).astype(np.uint8), np.ones((3, 3))) > 0)
    grey = _grey(m.frame)[band]
    return float(1.0 - np.median(grey) / max(float(_grey(m.lips)), 1.0))


def flat_bright_share(m: Interior) -> float:
    """The largest connected flat (3x3 std under 1 level) bright (10 % above the lips) region
    inside the opening, as a share of the opening: a slab of paint."""
    grey = _grey(m.frame)
    mean = cv2.blur(grey, (3, 3))
    std = np.sqrt(np.maximum(cv2.blur(grey * grey, (3, 3)) - mean * mean, 0))
    flat = (std < 1.0) & (grey > 1.1 * float(_grey(m.lips))) & m.inside
    if not flat.any():
        return 0.0
    _count, labels = cv2.connectedComponents(flat.astype(np.uint8), connectivity=4)
    largest = np.bincount(labels[flat])[1:].max()
    return float(largest) / max(int(m.inside.sum()), 1)


def teeth_texture(m: Interior) -> float:
    """Fine texture of the teeth: the median absolute high-pass (brightness minus its 3x3
    blur) over the pixels brighter than the lips, in brightness levels. Paint is ~0."""
    grey = _grey(m.frame)
    high = np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 1.0))
    teeth = m.inside & (grey > 1.05 * float(_grey(m.lips)))
    teeth = cv2.erode(teeth.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return float(np.median(high[teeth])) if teeth.any() else 0.0


def cavity_chroma_ratio(m: Interior) -> float:
    """The cavity's chroma (mean Lab colour of the pixels darker than the lips) over the lips':
    a shade of the presenter's lips keeps their colour, a grey-brown hole does not."""
    px = lab(m.frame[m.inside].astype(np.float32))
    lips = lab(m.lips)
    cavity = px[px[:, 0] < lips[0] - 3]
    c = cavity.mean(0)
    return float(np.hypot(c[1], c[2]) / max(np.hypot(lips[1], lips[2]), 1.0))


def close_up(m: Interior, source: np.ndarray, scale: int = 4) -> np.ndarray:
    """Presenter | drawn mouth, side by side, enlarged (nearest neighbour, pixels visible)."""
    x0, y0, x1, y1 = m.box
    tiles = [source[y0:y1, x0:x1], m.frame[y0:y1, x0:x1]]
    return np.hstack(
        [cv2.resize(t, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) for t in tiles]
    )


def closed_mouth_presenter() -> tuple[np.ndarray, np.ndarray]:
    """skimage's astronaut with her smile closed (the warp engine's own closed pose): a
    presenter whose template never shows the mouth open, available without shared media."""
    from skimage import data

    from tests.engine.warp_fixtures import astronaut_landmarks

    image = np.ascontiguousarray(data.astronaut())
    lm = astronaut_landmarks()
    patch = animate_mouth(image, lm, 0.0, 0.0)
    x0, y0, x1, y1 = patch.box
    image[y0:y1, x0:x1] = patch.image
    return image, patch.target.astype(np.float32)
