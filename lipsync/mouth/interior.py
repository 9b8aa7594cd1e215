"""Drawing the inside of an open mouth: inner lips, a shaded cavity, tongue and teeth.

Colours come from the presenter (:func:`cavity_tones`, :func:`neutral_teeth`): the inside of
the lips is the lips' own tone, a little darker and redder, and the cavity darkens from it
towards the back of the mouth, so the opening has no dark rim; the teeth are sampled where the
template shows teeth (:func:`sample_teeth_colour`), otherwise made from the skin around the
mouth in the picture's own light. Teeth and cavity carry a fine grain fixed to the mouth (no
flat slab of paint, no crawling noise). The opening is a smooth, tapered curve fitted to the
target inner-lip landmarks, with the upper teeth hanging from the upper lip the way they do in
real speech.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from .pose import FaceFrame

DEFAULT_TEETH = np.array([214, 206, 190], np.float32)
#: Where the front teeth meet, from corner (-1) to corner (1) of the opening.
_TOOTH_GAPS = np.array([-0.76, -0.58, -0.34, 0.0, 0.34, 0.58, 0.76], np.float32)
#: Lip-edge profiles (p, q) of :func:`_profile`: the upper lip is flatter, the lower rounder.
_UPPER_SHAPE = (2.4, 0.7)
_LOWER_SHAPE = (2.0, 0.8)


def smooth_closed(points: np.ndarray, per_segment: int = 6) -> np.ndarray:
    """Closed Catmull-Rom curve through ``points`` (n, 2): mouth outlines are curves, not
    polygons, and at large face sizes the straight segments would show."""
    p = np.asarray(points, np.float32)
    p0, p1, p2, p3 = np.roll(p, 1, 0), p, np.roll(p, -1, 0), np.roll(p, -2, 0)
    t = np.linspace(0, 1, per_segment, endpoint=False, dtype=np.float32)[None, :, None]
    a, b, c, d = (x[:, None, :] for x in (p0, p1, p2, p3))
    pts: np.ndarray = 0.5 * (
        2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t**2 + (-a + 3 * b - 3 * c + d) * t**3
    )
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
    pix: np.ndarray = image[y0:y1, x0:x1][mask > 0]
    if len(pix) < 4:
        return np.array([150, 70, 70], np.float32)
    mean: np.ndarray = pix.reshape(-1, 3).astype(np.float32).mean(0)
    return mean


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
    skin_v = float(
        image[int(np.clip(lm[33][1], 0, h - 1)), int(np.clip(lm[33][0], 0, w - 1))].max()
    )
    bright = (hsv[:, 2] > 0.7 * max(skin_v, 60)) & (hsv[:, 1] < 80)
    if bright.mean() < 0.15:
        return None
    # The brighter, greyer half: pale lip highlights and gum edges also pass the test above.
    cand = pix[bright]
    score = cand.mean(1) - (cand.max(1) - cand.min(1))
    teeth: np.ndarray = np.median(cand[score >= np.median(score)], axis=0)
    return teeth


def skin_tone(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """The skin colour around the mouth (between nose and chin, beside the lips): the median
    of its mid-bright pixels, so shadows, highlights and the lips themselves weigh little."""
    h, w = image.shape[:2]
    ff_w = max(float(np.hypot(*(lm[54] - lm[48]))), 2.0)
    x0 = int(np.clip(lm[48][0] - 0.4 * ff_w, 0, w - 1))
    x1 = int(np.clip(lm[54][0] + 0.4 * ff_w, x0 + 1, w))
    y0 = int(np.clip(lm[33][1], 0, h - 1))
    y1 = int(np.clip(lm[8][1], y0 + 1, h))
    step = max(1, int(np.sqrt((y1 - y0) * (x1 - x0) / 1500.0)))  # ~1500 samples
    skin = image[y0:y1:step, x0:x1:step].reshape(-1, 3).astype(np.float32)
    if len(skin) < 8:
        return np.array([200, 160, 140], np.float32)
    lum = skin.mean(1)
    lo, hi = np.percentile(lum, [30, 90])
    tone: np.ndarray = (
        np.median(skin[(lum >= lo) & (lum <= hi)], axis=0) if hi > lo else skin.mean(0)
    )
    return tone.astype(np.float32)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab (L 0..100) of one RGB colour (0..255)."""
    arr = np.clip(np.asarray(rgb, np.float32), 0, 255).reshape(1, 1, 3) / 255.0
    out: np.ndarray = cv2.cvtColor(arr, cv2.COLOR_RGB2LAB).reshape(3)
    return out


def from_lab(lab: np.ndarray) -> np.ndarray:
    """RGB (0..255, float32) of one CIE Lab colour."""
    arr = np.asarray(lab, np.float32).reshape(1, 1, 3)
    out: np.ndarray = cv2.cvtColor(arr, cv2.COLOR_LAB2RGB).reshape(3) * 255.0
    rgb: np.ndarray = np.clip(out, 0, 255).astype(np.float32)
    return rgb


def neutral_teeth(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Teeth for a presenter whose teeth are never seen, in the picture's own light.

    Made from the skin around the mouth (:func:`skin_tone`) in Lab: brighter than the skin
    (half-way to white), with a little of its hue and about half its chroma, so they are a
    warm ivory under warm light, cooler in a cool picture, and follow a painting's palette;
    dim in a dim frame, never a glowing white slab in a bright one.
    """
    skin = to_lab(skin_tone(image, lm))
    lightness = float(np.clip(skin[0] + 0.4 * (94.0 - skin[0]), 30.0, 86.0))
    lab = np.array([lightness, 0.2 * skin[1] + 0.5, 0.45 * skin[2] + 4.0], np.float32)
    return from_lab(lab)


def cavity_tones(lips_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inner lip, deep cavity, tongue) colours from the presenter's lip colour.

    The inside of the lips is the lips' own tone, a little darker and redder (wet); the back
    of the mouth a deep, dark shade of the same hue; the tongue a muted, lighter pink. All
    in Lab, so they keep the lips' hue under any light.
    """
    lips = to_lab(lips_rgb)
    inner = from_lab(np.array([0.86 * lips[0], 1.02 * lips[1], 0.9 * lips[2]], np.float32))
    deep = from_lab(
        np.array([float(np.clip(0.3 * lips[0], 7.0, 20.0)), 0.7 * lips[1], 0.5 * lips[2]])
    )
    tongue = from_lab(np.array([0.6 * lips[0], 0.75 * lips[1], 0.55 * lips[2]], np.float32))
    return inner, deep, tongue


@functools.cache
def _grain() -> np.ndarray:
    """A fixed tile of fine, soft noise (std 1), for the texture of teeth and cavity."""
    rng = np.random.default_rng(20261207)
    tile = cv2.GaussianBlur(rng.standard_normal((64, 64)).astype(np.float32), (0, 0), 0.9)
    out: np.ndarray = (tile / max(float(tile.std()), 1e-6)).astype(np.float32)
    return out


def _texture(u: np.ndarray, v: np.ndarray, cell: float, offset: float = 0.0) -> np.ndarray:
    """The grain at mouth coordinates ``u``, ``v`` (pixels), ``cell`` pixels per grain cell:
    it moves with the mouth, so it does not crawl from frame to frame."""
    mx = (u / cell + offset).astype(np.float32)
    my = (v / cell + 2.0 * offset).astype(np.float32)
    out: np.ndarray = cv2.remap(_grain(), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    return out


def _profile(t: np.ndarray, p: float, q: float) -> np.ndarray:
    """Height of a lip edge along the opening: 1 in the middle, tapering to 0 at the corners."""
    height: np.ndarray = np.clip(1.0 - np.abs(t) ** p, 0.0, 1.0) ** q
    return height


def _smoothstep(x: np.ndarray | float) -> np.ndarray | float:
    x = np.clip(x, 0.0, 1.0)
    y: np.ndarray | float = x * x * (3 - 2 * x)
    return y


def _fit_edge(t: np.ndarray, v: np.ndarray, p: float, q: float) -> tuple[float, float]:
    """Least-squares ``v = profile(t) * (a + b t)`` through one lip's three inner points:
    a smooth curve instead of the polygon, so a smile's V becomes a rounded U."""
    f = _profile(t, p, q)
    design = np.stack([f, f * t], 1)
    (a, b), *_ = np.linalg.lstsq(design.astype(np.float64), v.astype(np.float64), rcond=None)
    return float(a), float(b)


def draw_interior(
    region: np.ndarray,
    inner: np.ndarray,
    ff: FaceFrame,
    lips_rgb: np.ndarray,
    teeth_rgb: np.ndarray,
    opacity: float = 1.0,
) -> None:
    """Paint the mouth interior into ``region`` (in place) inside the opening ``inner`` (8, 2).

    ``inner`` holds target landmarks 60-67 in ``region`` coordinates; ``opacity`` < 1 lets a
    real interior already warped into place show through.

    The opening is modelled in the mouth's own coordinates (``t`` from corner to corner, -1..1,
    ``v`` across): each lip edge is a smooth tapered curve fitted to its landmarks, and every
    layer (cavity, tongue, teeth) is an analytic field over the small crop, anti-aliased by a
    soft step of about a pixel. Everything follows from the landmarks and the opening, so equal
    inputs give equal pixels and smoothly moving landmarks give smoothly moving shading.
    """
    if opacity <= 0:
        return
    h, w = region.shape[:2]
    inner = np.asarray(inner, np.float32)
    gap = float(np.clip((inner[[7, 6, 5]] - inner[[1, 2, 3]]) @ ff.ey, 0, None).mean())
    if gap < 0.6:
        return
    left, right = inner[0], inner[4]
    span = float(np.hypot(*(right - left)))
    u = (right - left) / span if span > 1.0 else ff.ex
    n = np.array([-u[1], u[0]], np.float32)
    if float(n @ ff.ey) < 0:
        n = -n
    half = max(span / 2, 1.0)
    mid = (left + right) / 2
    rel = inner - mid
    t_pts, v_pts = rel @ u / half, rel @ n
    au, bu = _fit_edge(t_pts[[1, 2, 3]], v_pts[[1, 2, 3]], *_UPPER_SHAPE)
    al, bl = _fit_edge(t_pts[[7, 6, 5]], v_pts[[7, 6, 5]], *_LOWER_SHAPE)
    # Grow the opening a little over the lips' inner edge: the template's dark lip line there
    # would otherwise be stretched into a dark ring around the interior.
    grow = min(0.014 * ff.height, 0.3 * gap)
    margin = int(np.ceil(grow + 2))
    x0, y0 = np.maximum(np.floor(inner.min(0) - np.array([0.0, grow])).astype(int) - margin, 0)
    x1, y1 = np.minimum(np.ceil(inner.max(0) + np.array([0.0, grow])).astype(int) + margin, [w, h])
    if x1 - x0 < 3 or y1 - y0 < 2:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - mid[0], yy - mid[1]
    t = (dx * u[0] + dy * u[1]) / half
    v = dx * n[0] + dy * n[1]
    ta = np.clip(t, -1.0, 1.0)
    aa = max(1.5, 0.0075 * ff.height)  # edge width: about two pixels at 720p
    # Edge curves are tabulated along t once, then looked up per pixel. Each soft step is
    # measured across its curve (vertical distance over the slope's norm), so the steep
    # sides near the corners are as soft as the top and bottom.
    ts = np.linspace(-1.0, 1.0, 129, dtype=np.float32)
    fu, fl = _profile(ts, *_UPPER_SHAPE), _profile(ts, *_LOWER_SHAPE)
    top_s = fu * (au + bu * ts)
    bottom_s = np.maximum(fl * (al + bl * ts), top_s)
    tooth_h = min(0.45 * gap, 0.045 * ff.height) + grow
    curves = {
        "top_g": top_s - grow * fu,
        "bottom": bottom_s,
        "bottom_g": bottom_s + 0.6 * grow * fl,
        "th": tooth_h * _profile(ts / 0.86, 3.0, 0.6),
    }
    curves["tooth"] = curves["top_g"] + curves["th"]
    look = {k: np.interp(t, ts, c).astype(np.float32) for k, c in curves.items()}
    for k in ("top_g", "bottom_g", "tooth"):
        slope = np.gradient(curves[k], ts) / half
        look[k + "_n"] = np.interp(t, ts, np.minimum(np.sqrt(1.0 + slope**2), 8.0)).astype(
            np.float32
        )
    top_g, bottom, bottom_g = look["top_g"], look["bottom"], look["bottom_g"]
    # Fade the last pixels before each corner, where the lips meet: a tapered tip, not a cut.
    inside_t = _smoothstep((1.0 - np.abs(t)) * half / (2.5 * aa) + 0.2)
    m = (
        np.clip((v - top_g) / (aa * look["top_g_n"]) + 0.5, 0, 1)
        * np.clip((bottom_g - v) / (1.5 * aa * look["bottom_g_n"]) + 0.5, 0, 1)
        * inside_t
    )
    if float(m.max()) <= 0.0:
        return
    height = np.maximum(bottom_g - top_g, 1e-3)
    dv = np.clip((v - top_g) / height, 0.0, 1.0)  # 0 at the upper lip, 1 at the lower
    lips = np.asarray(lips_rgb, np.float32)
    teeth = np.asarray(teeth_rgb, np.float32)
    open_h = gap / ff.height
    inner_lip, deep, tongue_rgb = cavity_tones(lips)
    cell = max(0.8, 0.006 * ff.height)  # grain size: fine, but above a pixel at 720p
    along = t * half
    # Cavity: the inside of the lips at the edges, darkening gradually towards the back of
    # the mouth (no dark rim where it meets the lips), lighter again towards the corners.
    from_edge = np.minimum(dv, 1.0 - dv) * 2.0  # 0 at either lip, 1 half-way
    depth = _smoothstep(from_edge / 0.6) * (1.0 - ta**2) ** 0.6
    depth = np.asarray(depth, np.float32) * float(_smoothstep(open_h / 0.03))
    grain = _texture(along, v, 1.5 * cell)
    cavity = inner_lip + (deep - inner_lip) * depth[..., None]
    cavity = cavity * (1.0 + 0.045 * grain)[..., None]
    # Tongue: a soft lighter mound low in the cavity, once the jaw is well open.
    k_tongue = float(_smoothstep((open_h - 0.045) / 0.05))
    if k_tongue > 0:
        ty = (dv - 1.0) / 0.38
        tongue = np.clip(1.0 - (ta / 0.65) ** 2 - ty**2, 0.0, 1.0) * k_tongue
        tongue_col = tongue_rgb * (0.8 + 0.2 * dv)[..., None]
        cavity = cavity + (tongue_col - cavity) * (0.7 * tongue)[..., None]
    col = cavity
    # Upper teeth hang from the upper lip and follow its curve; narrower than the opening
    # (the side teeth recede into the cavity), in the shadow of the lip at the top, with a
    # soft, slightly translucent biting edge, faint gaps between the front teeth and a fine
    # grain: tones mixed with the cavity's, never darkened to grey.
    k_teeth = float(_smoothstep((open_h - 0.02) / 0.03))
    if k_teeth > 0:
        th = look["th"]
        soft = 1.6 * aa
        band = np.clip((look["tooth"] - v) / (soft * look["tooth_n"]) + 0.5, 0, 1) * _smoothstep(
            th / 2.0
        )
        rel_v = np.clip((v - top_g) / np.maximum(th, 1e-3), 0.0, 1.0)
        tooth_grain = _texture(along, v - top_g, cell, offset=17.0)
        tooth = teeth[None, None, :] * (1.0 + 0.025 * tooth_grain)[..., None]
        k_gaps = 0.1 * float(_smoothstep((tooth_h - 4.0) / 4.0))
        if k_gaps > 0:
            # Faint gaps between the front teeth, once they are big enough not to alias.
            sep = np.abs(t[..., None] - _TOOTH_GAPS) * half
            notch = np.exp(-((sep.min(-1) / max(0.6, 0.004 * ff.height)) ** 2))
            tooth = tooth + (deep - tooth) * (k_gaps * notch * (0.3 + 0.7 * rel_v))[..., None]
        # Shadow of the upper lip over the top of the teeth.
        lip_shadow = 0.6 * (1.0 - np.asarray(_smoothstep(rel_v / 0.5), np.float32))
        tooth = tooth + (inner_lip * 0.85 - tooth) * lip_shadow[..., None]
        # The side teeth recede into the dark.
        recede = np.clip(0.85 * ta**2, 0.0, 1.0)
        tooth = tooth + (deep - tooth) * recede[..., None]
        # The biting edge lets a little of the cavity through.
        edge = 0.25 * np.asarray(_smoothstep((rel_v - 0.8) / 0.2), np.float32)
        a_t = band * k_teeth * (1.0 - edge)
        col = col + (tooth - col) * a_t[..., None]
        # Lower teeth: a short row just inside the lower lip, only when wide open.
        k_low = float(_smoothstep((open_h - 0.07) / 0.04))
        if k_low > 0:
            lth = min(0.09 * gap, 0.01 * ff.height) * _profile(ta / 0.45, 2.0, 0.6)
            lband = np.clip((v - (bottom - lth)) / soft + 0.5, 0, 1) * _smoothstep(lth)
            ltooth = 0.6 * teeth + 0.4 * inner_lip
            ltooth = ltooth[None, None, :] + (deep - ltooth) * np.clip(1.5 * ta**2, 0, 1)[..., None]
            col = col + (ltooth - col) * (lband * k_low * 0.45)[..., None]
    roi = region[y0:y1, x0:x1].astype(np.float32)
    a = (m * float(opacity))[..., None]
    region[y0:y1, x0:x1] = np.clip(roi * (1 - a) + col * a + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class LipLine:
    """Where closed lips meet: a smooth curve ``v = mid(t)`` in the mouth's own coordinates.

    ``t`` runs from one mouth corner (-1) to the other (1) along ``u``; ``v`` is the distance
    along ``n`` (down the face). The curve is a least-squares cubic through the outer corners
    and the midpoints of the upper and lower inner-lip landmarks, so landmark jitter or a
    polygon's kinks never show as a wavy line.
    """

    origin: np.ndarray
    u: np.ndarray
    n: np.ndarray
    half: float
    coef: np.ndarray  # cubic in t, highest power first (np.polyval order)
    gap: float  # mean inner-lip gap, pixels
    thickness: float  # the thinner lip's thickness at the middle, pixels

    def mid(self, t: np.ndarray) -> np.ndarray:
        return np.polyval(self.coef, t)

    def slope(self, t: np.ndarray) -> np.ndarray:
        return np.polyval(np.polyder(self.coef), t) / self.half


def lip_line(outer: np.ndarray, inner: np.ndarray, ff: FaceFrame) -> LipLine | None:
    """The meeting line of the lips for outer (12, 2) and inner (8, 2) lip landmarks."""
    outer = np.asarray(outer, np.float64)
    inner = np.asarray(inner, np.float64)
    left, right = outer[0], outer[6]
    span = float(np.hypot(*(right - left)))
    if span < 3.0:
        return None
    u = (right - left) / span
    n = np.array([-u[1], u[0]])
    if float(n @ ff.ey) < 0:
        n = -n
    half = span / 2
    origin = (left + right) / 2
    mids = np.vstack([left, inner[0], (inner[[1, 2, 3]] + inner[[7, 6, 5]]) / 2, inner[4], right])
    rel = mids - origin
    t, v = rel @ u / half, rel @ n
    # The corners pin the ends; the middle points carry the shape.
    w = np.array([2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0])
    coef = np.polyfit(np.clip(t, -1.5, 1.5), v, 3, w=w)
    gap = float(np.clip((inner[[7, 6, 5]] - inner[[1, 2, 3]]) @ ff.ey, 0, None).mean())
    up = float((inner[2] - outer[3]) @ n)
    lo = float((outer[9] - inner[6]) @ n)
    return LipLine(
        origin.astype(np.float32),
        u.astype(np.float32),
        n.astype(np.float32),
        half,
        coef,
        gap,
        max(min(up, lo), 0.0),
    )


#: :func:`_line_grid`'s pixel box (x0, y0, x1, y1) and its t, v, mid(t) and d fields.
_LineGrid = tuple[tuple[int, int, int, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _line_grid(line: LipLine, shape: tuple[int, int], reach: float) -> _LineGrid | None:
    """Pixel box around the lip line (``reach`` pixels either side) and its (t, d) fields:
    ``d`` is the distance from the curve measured across it."""
    h, w = shape
    ts = np.linspace(-1.0, 1.0, 9)
    pts = line.origin + np.outer(ts * line.half, line.u) + np.outer(line.mid(ts), line.n)
    x0, y0 = np.maximum(np.floor(pts.min(0) - reach).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0) + reach).astype(int) + 2, [w, h])
    if x1 - x0 < 3 or y1 - y0 < 2:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - line.origin[0], yy - line.origin[1]
    t = (dx * line.u[0] + dy * line.u[1]) / line.half
    v = dx * line.n[0] + dy * line.n[1]
    tc = np.clip(t, -1.0, 1.0)
    vm = line.mid(tc).astype(np.float32)
    d = (v - vm) / np.sqrt(1.0 + np.minimum(line.slope(tc), 4.0) ** 2).astype(np.float32)
    return (x0, y0, x1, y1), t, v, vm, d


def closed_strength(gap: float, ff: FaceFrame, full: float = 0.025) -> float:
    """1 for lips that meet, fading to 0 once the opening is ``full`` face heights."""
    return float(np.clip(1.0 - gap / (full * ff.height), 0.0, 1.0))


def fill_lip_line(
    region: np.ndarray, line: LipLine, outer: np.ndarray, ff: FaceFrame, lips_rgb: np.ndarray
) -> float:
    """Cover what the template left between closing lips with the same frame's lip texture.

    Repainted are a band around the meeting line (a third of the thinner lip, tapering to the
    corners, fading out over its outer half) and, a little further out, any lip pixel far
    from the lip colour: teeth and the template's dark inner lip edge, which landmarks never
    hug exactly. The paint is a normalised blur of the remaining lip pixels around, so it
    keeps the local shading of the upper and lower lip, joins them smoothly and leaves no
    teeth streak, with a grain as strong as the lips' own fine detail on top (no flat
    patch). Returns the strength used (0..1): what was there between barely parted lips is
    gone to that degree.
    """
    # Gone once the lips part by 2 % of the face: from there the opening is the interior's.
    k = closed_strength(line.gap, ff, 0.02)
    hb0 = min(0.3 * line.thickness, 0.025 * ff.height)
    if k <= 0 or hb0 < 0.6:
        return 0.0
    # Teeth squeezed between closing lips lie close to the line; highlights on the lips'
    # bodies, further out, are the presenter's own and stay.
    reach = min(0.6 * line.thickness, 0.05 * ff.height)
    grid = _line_grid(line, region.shape[:2], reach + 2.0 * hb0 + 2)
    if grid is None:
        return 0.0
    (x0, y0, x1, y1), t, v, _, d = grid
    ad = np.abs(d)
    tc = np.clip(t, -1, 1)
    taper = _profile(tc, 4.0, 0.5)
    hb = hb0 * taper
    # The band fades out over its outer half: no visible edge where the repaint ends.
    band = np.asarray(_smoothstep((hb - ad) / np.maximum(0.5 * hb, 1.0) + 0.5), np.float32)
    band = band * np.clip(taper * 4.0, 0.0, 1.0)
    roi = region[y0:y1, x0:x1].astype(np.float32)
    lipmask: np.ndarray = np.zeros(t.shape, np.uint8)
    poly = smooth_closed(np.asarray(outer, np.float32) - [x0, y0])
    cv2.fillPoly(lipmask, [np.round(poly * 4).astype(np.int32)], 1, shift=2)
    lipmask = cv2.erode(lipmask, np.ones((3, 3), np.uint8))
    lum = roi.mean(2)
    lip_lum = float(np.asarray(lips_rgb, np.float32).mean())
    off_colour = np.abs(lum - lip_lum) > 0.22 * lip_lum + 6
    near = (ad < reach * _profile(tc, 6.0, 0.3)) & (lipmask > 0)
    stray = cv2.dilate((near & off_colour).astype(np.uint8), np.ones((3, 3), np.uint8))
    a = np.maximum(band, cv2.GaussianBlur(stray.astype(np.float32), (0, 0), 1.0) * 1.5)
    a = (np.clip(a, 0.0, 1.0) * k).astype(np.float32)
    if float(a.max()) <= 0.02:
        return 0.0
    good = ((lipmask > 0) & ~off_colour & (ad > hb + 0.5) & (stray == 0)).astype(np.float32)
    sigma = max(1.2 * hb0, 1.0)
    num = cv2.GaussianBlur(roi * good[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(good, (0, 0), sigma)[..., None]
    kf = np.clip(den * 6.0, 0.0, 1.0)
    target = num / np.maximum(den, 1e-4) * kf + np.asarray(lips_rgb, np.float32) * (1 - kf)
    # The blur has no texture: give the repaint the grain of the lips around it, as strong
    # as their own fine detail, so it is not a flat patch of paint.
    grey = lum.astype(np.float32)
    detail = np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 1.0))[good > 0]
    amount = float(np.clip(np.median(detail), 0.0, 5.0)) if detail.size else 0.0
    if amount > 0.2:
        cell = max(0.8, 0.005 * ff.height)
        grain = np.clip(_texture(t * line.half, v, cell, offset=31.0), -2.0, 2.0)
        target = target * (1.0 + amount * grain / max(lip_lum, 1.0))[..., None]
    region[y0:y1, x0:x1] = np.clip(roi + (target - roi) * a[..., None] + 0.5, 0, 255).astype(
        np.uint8
    )
    return k


def draw_seam(region: np.ndarray, line: LipLine, ff: FaceFrame, lips_rgb: np.ndarray) -> None:
    """A thin dark crease along the smooth meeting line of closed or nearly closed lips
    (in place); it fades out as the mouth opens and the interior takes over."""
    alpha = closed_strength(line.gap, ff, 0.04) * 0.6
    if alpha <= 0:
        return
    sigma = max(0.55, 0.0045 * ff.height)
    grid = _line_grid(line, region.shape[:2], 3.0 * sigma + 1)
    if grid is None:
        return
    (x0, y0, x1, y1), t, _, _, d = grid
    # Darkest in the middle, fading over the last tenth before each corner.
    along = _smoothstep((1.0 - np.abs(t)) / 0.12)
    m = (np.exp(-0.5 * (d / sigma) ** 2) * along * alpha).astype(np.float32)[..., None]
    roi = region[y0:y1, x0:x1].astype(np.float32)
    col = np.asarray(lips_rgb, np.float32) * 0.42
    region[y0:y1, x0:x1] = np.clip(roi + (col - roi) * m + 0.5, 0, 255).astype(np.uint8)


def clean_lips(
    region: np.ndarray, outer: np.ndarray, inner: np.ndarray, ff: FaceFrame, lips_rgb: np.ndarray
) -> None:
    """Repaint teeth that ended up on the lips (in place).

    Landmarks rarely hug the lip edge exactly, so closing a smiling template's mouth can drag
    slivers of teeth onto the lips. Inside the outer lip outline but outside the opening,
    anything much brighter and greyer than the lips is repainted, together with the dark gaps
    between those teeth (which would otherwise stay behind as a row of dots). The fill is the
    surrounding lip pixels smoothed over, so it keeps the lip's local colour and shading
    instead of leaving a flat patch.
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
        (0.8 * lip_sat - sat) / (0.3 * lip_sat + 1), 0, 1
    )
    inband = band / 255.0
    teethish = (teethish * inband).astype(np.float32)
    if float(teethish.max()) <= 0.05:
        return
    # Gaps between teeth: dark pixels right next to teeth pixels.
    r = max(1, int(round(0.008 * ff.height)))
    near = cv2.dilate(teethish, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    gaps = near * np.clip((0.75 * lip_lum - lum) / (0.25 * lip_lum + 1), 0, 1) * inband
    bad = np.maximum(teethish, gaps.astype(np.float32))
    wgt = cv2.GaussianBlur(bad, (0, 0), max(0.004 * ff.height, 0.5))
    wgt = np.clip(wgt * 1.5, 0, 1)[..., None]
    if float(wgt.max()) <= 0.02:
        return
    # Fill from the good lip pixels around (normalised blur); plain lip colour where none.
    good = inband * (1.0 - np.clip(cv2.dilate(bad, np.ones((3, 3), np.uint8)) * 2, 0, 1))
    good = good.astype(np.float32)
    sigma = max(0.015 * ff.height, 1.0)
    num = cv2.GaussianBlur(roi * good[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(good, (0, 0), sigma)[..., None]
    fallback = lips_rgb * 0.92
    k = np.clip(den * 4.0, 0.0, 1.0)
    target = num / np.maximum(den, 1e-4) * k + fallback * (1 - k)
    region[y0:y1, x0:x1] = np.clip(roi * (1 - wgt) + target * wgt, 0, 255).astype(np.uint8)
