"""Drawing the inside of an open mouth: a shaded dark cavity and teeth.

Colours come from the presenter: the cavity is a deep shade of their lip colour, the teeth
colour is sampled where the template shows teeth (see :func:`sample_teeth_colour`), otherwise a
dimmed ivory. Shapes follow the target inner-lip polygon, with the upper teeth hanging from the
upper lip the way they do in real speech.
"""
from __future__ import annotations

import cv2
import numpy as np

from .pose import FaceFrame

DEFAULT_TEETH = np.array([214, 206, 190], np.float32)
_UPPER_CURVE = [60, 61, 62, 63, 64]
_LOWER_CURVE = [64, 65, 66, 67, 60]


def smooth_closed(points: np.ndarray, per_segment: int = 6) -> np.ndarray:
    """Closed Catmull-Rom curve through ``points`` (n, 2): mouth outlines are curves, not
    polygons, and at large face sizes the straight segments would show."""
    p = np.asarray(points, np.float32)
    p0, p1, p2, p3 = np.roll(p, 1, 0), p, np.roll(p, -1, 0), np.roll(p, -2, 0)
    t = np.linspace(0, 1, per_segment, endpoint=False, dtype=np.float32)[None, :, None]
    a, b, c, d = (x[:, None, :] for x in (p0, p1, p2, p3))
    pts = 0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t ** 2
                 + (-a + 3 * b - 3 * c + d) * t ** 3)
    return pts.reshape(-1, 2)


def lip_colour(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Mean RGB between the outer and inner lip outlines."""
    x0, y0 = np.floor(lm[48:60].min(0)).astype(int)
    x1, y1 = np.ceil(lm[48:60].max(0)).astype(int) + 1
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.array([150, 70, 70], np.float32)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    off = np.array([x0, y0], np.float32)
    cv2.fillPoly(mask, [np.round(lm[48:60] - off).astype(np.int32)], 1)
    cv2.fillPoly(mask, [np.round(lm[60:68] - off).astype(np.int32)], 0)
    pix = image[y0:y1, x0:x1][mask > 0]
    if len(pix) < 4:
        return np.array([150, 70, 70], np.float32)
    return pix.reshape(-1, 3).astype(np.float32).mean(0)


def sample_teeth_colour(image: np.ndarray, lm: np.ndarray, ff: FaceFrame) -> np.ndarray | None:
    """Colour of the presenter's teeth if this frame shows them, else None."""
    poly = lm[60:68]
    x0, y0 = np.floor(poly.min(0)).astype(int)
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 1
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 2:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(poly - [x0, y0]).astype(np.int32)], 1)
    pix = image[y0:y1, x0:x1][mask > 0].astype(np.float32)
    if len(pix) < 6:
        return None
    hsv = cv2.cvtColor(pix.reshape(-1, 1, 3).astype(np.uint8), cv2.COLOR_RGB2HSV).reshape(-1, 3)
    skin_v = float(image[int(np.clip(lm[33][1], 0, h - 1)), int(np.clip(lm[33][0], 0, w - 1))].max())
    bright = (hsv[:, 2] > 0.7 * max(skin_v, 60)) & (hsv[:, 1] < 80)
    if bright.mean() < 0.15:
        return None
    return np.median(pix[bright], axis=0)


def draw_interior(region: np.ndarray, inner: np.ndarray, ff: FaceFrame, lips_rgb: np.ndarray,
                  teeth_rgb: np.ndarray, opacity: float = 1.0) -> None:
    """Paint the mouth interior into ``region`` (in place) inside polygon ``inner`` (8, 2).

    ``inner`` holds target landmarks 60-67 in ``region`` coordinates; ``opacity`` < 1 lets a
    real interior already warped into place show through.
    """
    if opacity <= 0:
        return
    h, w = region.shape[:2]
    gap = float(np.clip((inner[[7, 6, 5]] - inner[[1, 2, 3]]) @ ff.ey, 0, None).mean())
    if gap < 0.6:
        return
    # Grow the opening a little over the lips' inner edge: the template's dark lip line there
    # would otherwise be stretched into a dark ring around the interior.
    grow_px = min(0.025 * ff.height, 0.35 * gap)
    margin = int(np.ceil(grow_px + 0.01 * ff.height)) + 3
    x0, y0 = np.maximum(np.floor(inner.min(0)).astype(int) - margin, 0)
    x1, y1 = np.minimum(np.ceil(inner.max(0)).astype(int) + margin, [w, h])
    if x1 - x0 < 3 or y1 - y0 < 2:
        return
    off = np.array([x0, y0], np.float32)
    poly = inner - off
    bw, bh = x1 - x0, y1 - y0
    S = 4  # supersampling for smooth outlines at small face sizes
    mask = np.zeros((bh * S, bw * S), np.uint8)
    curve = smooth_closed(poly)
    cv2.fillPoly(mask, [np.round(curve * S).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    grow = int(round(grow_px * S))
    if grow > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                          (2 * grow + 1, 2 * grow + 1)))
    # Upper teeth: the upper inner-lip curve and the same curve shifted down.
    tooth_h = min(0.6 * gap, 0.05 * ff.height) * S
    upper = curve[:len(curve) // 2 + 1] * S - ff.ey * grow
    band = np.vstack([upper, (upper + ff.ey * tooth_h)[::-1]])
    teeth = np.zeros_like(mask)
    cv2.fillPoly(teeth, [np.round(band).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    lower_teeth = np.zeros_like(mask)
    if gap > 0.09 * ff.height:
        lower = np.vstack([curve[len(curve) // 2:], curve[:1]]) * S + ff.ey * grow
        lt_h = min(0.15 * gap, 0.012 * ff.height) * S + grow
        lband = np.vstack([lower, (lower - ff.ey * lt_h)[::-1]])
        cv2.fillPoly(lower_teeth, [np.round(lband).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    size = (bw, bh)
    m = cv2.resize(mask, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    t = cv2.resize(teeth, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    lt = cv2.resize(lower_teeth, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    # Shading: darker towards the corners.
    yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
    c = poly.mean(0)
    rel_x = np.abs((xx - c[0]) * ff.ex[0] + (yy - c[1]) * ff.ex[1]) / max(
        float(np.abs((poly[4] - poly[0]) @ ff.ex)) / 2, 1.0)
    corner = np.clip(1.0 - 0.45 * rel_x ** 2, 0.55, 1.0)[..., None]
    # Cavity: darkest high up behind the teeth, lighter and redder low down (the tongue).
    rel_y = (((yy - c[1]) * ff.ey[1] + (xx - c[0]) * ff.ey[0]) / max(gap, 1.0) + 0.5)
    depth = np.clip(rel_y, 0.0, 1.0)[..., None]
    cavity = np.clip(lips_rgb * (0.14 + 0.3 * depth ** 2) + 3, 0, 255) * (0.75 + 0.25 * corner)
    # Teeth are shaded where the lips overhang them.
    inside = cv2.GaussianBlur(m, (0, 0), max(0.012 * ff.height, 0.7))
    lip_shade = (0.78 + 0.22 * np.clip((inside - 0.5) * 2.5, 0.0, 1.0))[..., None]
    tooth = teeth_rgb * corner * lip_shade
    col = cavity * (1 - t[..., None]) + tooth * t[..., None]
    col = col * (1 - lt[..., None]) + tooth * 0.6 * lt[..., None]
    # Normalised blur: soften inside the outline without pulling in colour from outside it.
    soft = max(0.003 * ff.height, 0.5)
    col = cv2.GaussianBlur(col * m[..., None], (0, 0), soft) / np.maximum(
        cv2.GaussianBlur(m, (0, 0), soft), 1e-3)[..., None]
    roi = region[y0:y1, x0:x1].astype(np.float32)
    a = cv2.GaussianBlur(m, (0, 0), max(0.004 * ff.height, 0.4))[..., None] * float(opacity)
    region[y0:y1, x0:x1] = np.clip(roi * (1 - a) + col * a, 0, 255).astype(np.uint8)


def draw_seam(region: np.ndarray, inner: np.ndarray, ff: FaceFrame, lips_rgb: np.ndarray) -> None:
    """Darken the line where closed or nearly closed lips meet (in place).

    It hides what is left of the template's teeth between neutralised lips, and fades out as
    the mouth opens and the interior takes over.
    """
    gap = float(np.clip((inner[[7, 6, 5]] - inner[[1, 2, 3]]) @ ff.ey, 0, None).mean())
    alpha = float(np.clip(1.0 - gap / (0.04 * ff.height), 0.0, 1.0)) * 0.85
    if alpha <= 0:
        return
    h, w = region.shape[:2]
    S = 4
    mid = (inner[[0, 1, 2, 3, 4]] + inner[[0, 7, 6, 5, 4]]) / 2
    x0, y0 = np.maximum(np.floor(inner.min(0)).astype(int) - 4, 0)
    x1, y1 = np.minimum(np.ceil(inner.max(0)).astype(int) + 5, [w, h])
    if x1 - x0 < 3 or y1 - y0 < 2:
        return
    canvas = np.zeros(((y1 - y0) * S, (x1 - x0) * S), np.uint8)
    thick = max(int(round(0.014 * ff.height * S)), S)
    cv2.polylines(canvas, [np.round((mid - [x0, y0]) * S).astype(np.int32)], False, 255,
                  thickness=thick, lineType=cv2.LINE_AA)
    m = cv2.resize(canvas, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA).astype(np.float32)
    m = cv2.GaussianBlur(m / 255, (0, 0), max(0.004 * ff.height, 0.5))[..., None] * alpha
    roi = region[y0:y1, x0:x1].astype(np.float32)
    col = np.clip(lips_rgb * 0.55, 0, 255)
    region[y0:y1, x0:x1] = np.clip(roi * (1 - m) + col * m, 0, 255).astype(np.uint8)


def clean_lips(region: np.ndarray, outer: np.ndarray, inner: np.ndarray, ff: FaceFrame,
               lips_rgb: np.ndarray) -> None:
    """Repaint teeth-bright pixels that ended up on the lips (in place).

    Landmarks rarely hug the lip edge exactly, so closing a smiling template's mouth can drag
    slivers of teeth onto the lips. Inside the outer lip outline but outside the opening,
    anything much brighter and greyer than the lips is pulled to the lip colour.
    """
    h, w = region.shape[:2]
    x0, y0 = np.maximum(np.floor(outer.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(outer.max(0)).astype(int) + 3, [w, h])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    off = np.array([x0, y0], np.float32)
    band = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(band, [np.round(smooth_closed(outer - off)).astype(np.int32)], 255)
    cv2.fillPoly(band, [np.round(smooth_closed(inner - off)).astype(np.int32)], 0)
    roi = region[y0:y1, x0:x1].astype(np.float32)
    lum = roi.mean(2)
    lip_lum = float(lips_rgb.mean())
    sat = roi.max(2) - roi.min(2)
    lip_sat = float(lips_rgb.max() - lips_rgb.min())
    teethish = np.clip((lum - 1.15 * lip_lum) / (0.25 * lip_lum + 1), 0, 1) * np.clip(
        (0.8 * lip_sat - sat) / (0.3 * lip_sat + 1), 0, 1)
    wgt = cv2.GaussianBlur(teethish * (band / 255.0), (0, 0), max(0.004 * ff.height, 0.5))
    wgt = np.clip(wgt * 1.5, 0, 1)[..., None]
    if float(wgt.max()) <= 0.02:
        return
    target = lips_rgb * 0.92
    region[y0:y1, x0:x1] = np.clip(roi * (1 - wgt) + target * wgt, 0, 255).astype(np.uint8)
