"""Piecewise-affine warp of a small image region driven by landmark pairs.

The triangulation is fixed per face (Delaunay over landmarks of a representative, open-mouth
pose plus anchors on the region border), so the mesh topology does not change with the speech
and the warp is temporally stable; a video's next frames keep it while no triangle flips or
turns to a sliver (:func:`mesh_still_fits`). Border anchors do not move, so the warped region
joins the untouched frame seamlessly.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

# Landmarks that take part in the mesh: lower jaw, nose, lips.
MESH_POINTS = np.r_[np.arange(1, 16), np.arange(29, 36), np.arange(48, 68)]


def region_box(
    lm: np.ndarray, height: float, shape: tuple[int, int], margin: float = 0.22
) -> tuple[int, int, int, int]:
    """Integer box (x0, y0, x1, y1) around mouth and jaw with room for the jaw to drop."""
    pts = lm[MESH_POINTS]
    m = margin * height
    x0, y0 = pts.min(0) - m
    x1, y1 = pts.max(0) + m
    y1 += 0.1 * height
    h, w = shape
    return (
        int(max(np.floor(x0), 0)),
        int(max(np.floor(y0), 0)),
        int(min(np.ceil(x1), w)),
        int(min(np.ceil(y1), h)),
    )


def border_anchors(box: tuple[int, int, int, int], n: int = 4) -> np.ndarray:
    x0, y0, x1, y1 = box
    xs = np.linspace(x0, x1 - 1, n + 1)
    ys = np.linspace(y0, y1 - 1, n + 1)
    top = np.c_[xs, np.full_like(xs, y0)]
    bottom = np.c_[xs, np.full_like(xs, y1 - 1)]
    left = np.c_[np.full(n - 1, x0), ys[1:-1]]
    right = np.c_[np.full(n - 1, x1 - 1), ys[1:-1]]
    return np.vstack([top, bottom, left, right]).astype(np.float32)


def mesh_triangles(points: np.ndarray) -> np.ndarray:
    """Delaunay triangle indices (k, 3) over ``points`` (n, 2), each counter-clockwise
    (positive :func:`triangle_quality`)."""
    tris: np.ndarray = Delaunay(points.astype(np.float64)).simplices.astype(np.int32)
    flip = triangle_quality(points, tris) < 0
    tris[flip] = tris[flip][:, ::-1]
    return tris


def triangle_quality(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Signed shape quality of each triangle: 1 for equilateral, near 0 for a sliver,
    negative for one that is flipped (clockwise)."""
    p = points.astype(np.float64)[tris]  # (k, 3, 2)
    a, b = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    area = (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]) / 2
    edges = (np.diff(p[:, [0, 1, 2, 0]], axis=1) ** 2).sum(axis=(1, 2))
    quality: np.ndarray = 4 * np.sqrt(3) * area / np.maximum(edges, 1e-12)
    return quality


def mesh_still_fits(
    points: np.ndarray, tris: np.ndarray, reference: np.ndarray, keep: float = 0.5
) -> bool:
    """Whether ``tris`` (built where their qualities were ``reference``) still triangulate
    ``points``: no triangle flipped or squeezed below ``keep`` of its quality there.

    The border anchors stay the hull, so a mesh whose triangles all keep their orientation
    covers the region without overlaps; the quality floor keeps it close to a Delaunay one.
    """
    if len(tris) == 0 or int(tris.max()) >= len(points):
        return False
    return bool((triangle_quality(points, tris) >= keep * np.maximum(reference, 0.0) + 1e-4).all())


def warp_region(
    image: np.ndarray,
    box: tuple[int, int, int, int],
    src: np.ndarray,
    dst: np.ndarray,
    tris: np.ndarray,
    step: int = 1,
) -> np.ndarray:
    """Return the ``box`` region of ``image`` warped so points ``src`` land on ``dst``.

    ``src``/``dst`` are (n, 2) in image coordinates (anchors included), ``tris`` index them.
    With ``step`` > 1 the sampling map is computed on a grid that much coarser and
    interpolated: the map is piecewise linear, so large regions lose nothing visible.

    Only the rectangle around the triangles that move is resampled; the rest of the region,
    like any pixel a degenerate mesh leaves uncovered, keeps its exact source value
    (resampling it would only soften the picture).
    """
    x0, y0, x1, y1 = box
    out = image[y0:y1, x0:x1].copy()
    moved = np.abs(dst[tris] - src[tris]).max(axis=(1, 2)) > 1e-3
    if not moved.any():
        # Nothing moves (a closed template mouth kept closed, as in every pause): the warp
        # would hand back the source pixels themselves.
        return out
    w, h = x1 - x0, y1 - y0
    g = max(int(step), 1)
    # The moving triangles' rectangle in region coordinates, with a margin for the coarse
    # map's interpolation across their edges.
    near = dst[tris[moved]].reshape(-1, 2) - np.array([x0, y0], np.float32)
    rx0, ry0 = (np.floor(near.min(0)) - 2 * g).astype(int).clip(0, None)
    rx1, ry1 = np.ceil(near.max(0)) + 2 * g + 1
    rx1, ry1 = int(min(rx1, w)), int(min(ry1, h))
    if rx1 - rx0 < 1 or ry1 - ry0 < 1:
        return out
    sw, sh = rx1 - rx0, ry1 - ry0
    gw, gh = -(-sw // g), -(-sh // g)
    off = np.array([x0 + rx0, y0 + ry0], np.float64)
    d = dst.astype(np.float64) - off
    D = np.concatenate([d[tris], np.ones((len(tris), 3, 1))], axis=2)  # (k, 3, 3)
    area = np.abs(np.linalg.det(D)) / 2
    ok = area > 0.25
    draw = moved & ok
    # Grid sample (i, j) sits at sub-rectangle pixel ((j + .5) g - .5, (i + .5) g - .5), the
    # centre convention cv2.resize uses when the map is scaled back up.
    corners = np.round(((d + 0.5) / g - 0.5)[tris] * 16).astype(np.int32)
    ids = np.full((gh, gw), len(tris), np.int32)
    order = np.argsort(-area)
    # Still triangles are drawn too (their rows are the identity), so where a squeezed mesh
    # overlaps itself the smaller triangle wins, whichever moves.
    for t in order[ok[order]].tolist():
        cv2.fillConvexPoly(ids, corners[t], t, lineType=cv2.LINE_8, shift=4)
    # Row k of ``coef`` is [x y 1] @ A = source position for triangle k; the rows of still
    # triangles and the last one (pixels no triangle covers) are the identity.
    coef = np.zeros((len(tris) + 1, 3, 2), np.float32)
    coef[:, 0, 0] = coef[:, 1, 1] = 1.0
    coef[:, 2] = off
    coef[:-1][draw] = np.linalg.solve(D[draw], src.astype(np.float64)[tris[draw]])
    c: list[np.ndarray] = [np.take(col, ids) for col in coef.reshape(-1, 6).T]  # (gh, gw) each
    xs = (np.arange(gw, dtype=np.float32) + 0.5) * g - 0.5
    ys = ((np.arange(gh, dtype=np.float32) + 0.5) * g - 0.5)[:, None]
    mx: np.ndarray = c[0] * xs
    mx += c[2] * ys
    mx += c[4]
    my: np.ndarray = c[1] * xs
    my += c[3] * ys
    my += c[5]
    if g > 1:
        mx = cv2.resize(mx, (gw * g, gh * g), interpolation=cv2.INTER_LINEAR)[:sh, :sw]
        my = cv2.resize(my, (gw * g, gh * g), interpolation=cv2.INTER_LINEAR)[:sh, :sw]
    # Bicubic: keeps about 90 % of the detail (Laplacian variance) through a half-pixel shift,
    # bilinear about 60 %. At the identity's whole-pixel positions it returns the source.
    out[ry0:ry1, rx0:rx1] = cv2.remap(
        image, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return out
