"""One output frame's mouth: neutralise the template, apply the speech pose, warp, draw inside."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .drive import MAX_OPEN
from .interior import (
    clean_lips,
    draw_interior,
    draw_seam,
    fill_lip_line,
    lip_colour,
    lip_line,
    neutral_teeth,
)
from .pose import FaceFrame, face_frame, inner_gap, neutralise, speech_pose
from .warp import (
    MESH_POINTS,
    border_anchors,
    mesh_still_fits,
    mesh_triangles,
    region_box,
    triangle_quality,
    warp_region,
)


@dataclass
class MouthPatch:
    """The re-animated mouth region of one frame and where it goes."""

    image: np.ndarray  # (h, w, 3) uint8, region of the frame
    box: tuple[int, int, int, int]
    target: np.ndarray  # (68, 2) landmarks after animation, frame coordinates


@dataclass(frozen=True)
class _Layout:
    """What depends only on the template frame's landmarks, not on the speech."""

    ff: FaceFrame
    neutral: np.ndarray
    neutral_ff: FaceFrame  # the closed mouth's own face frame (its jaw is raised)
    box: tuple[int, int, int, int]
    anchors: np.ndarray
    tris: np.ndarray


_LAYOUTS: OrderedDict[bytes, _Layout] = OrderedDict()
_LAYOUTS_MAX = 256
_LAYOUTS_LOCK = threading.Lock()
#: Smallest face (eyes to chin, pixels) that is animated; smaller ones pass through.
MIN_FACE_PX = 12.0
#: Regions larger than this (pixels) compute the warp map on a 2x coarser grid.
COARSE_MAP_PIXELS = 60_000


#: The last mesh built (triangles, their qualities then), reused while it still fits.
_MESH: list[tuple[np.ndarray, np.ndarray]] = []


def _mesh(points: np.ndarray) -> np.ndarray:
    """Triangles over ``points``: the previous frame's while they still fit them (the face
    moves little between frames), else a new Delaunay mesh. A video's frames then share one
    topology for long stretches instead of triangulating every source frame."""
    with _LAYOUTS_LOCK:
        last = _MESH[0] if _MESH else None
    if last is not None and mesh_still_fits(points, *last):
        return last[0]
    tris = mesh_triangles(points)
    with _LAYOUTS_LOCK:
        _MESH[:] = [(tris, triangle_quality(points, tris))]
    return tris


def _layout(lm: np.ndarray, shape: tuple[int, int]) -> _Layout:
    """Region and mesh of one template frame, cached: a still photo or a ping-pong clip
    reuses them for every output frame showing that source frame."""
    key = np.ascontiguousarray(lm, np.float32).tobytes() + bytes(str(shape), "ascii")
    with _LAYOUTS_LOCK:
        hit = _LAYOUTS.get(key)
        if hit is not None:
            _LAYOUTS.move_to_end(key)
            return hit
    ff = face_frame(lm)
    neutral = neutralise(lm)
    nff = face_frame(neutral)
    # The region covers the widest and most open pose the speech can ask for.
    reach = np.vstack(
        [
            lm,
            speech_pose(neutral, MAX_OPEN * 1.2, 1.0, nff),
            speech_pose(neutral, MAX_OPEN * 1.2, -1.0, nff),
        ]
    )
    box = region_box(reach, ff.height, shape)
    anchors = border_anchors(box)
    # Mesh topology from a mildly open pose, so inner-lip triangles exist when closed.
    topo = np.vstack([speech_pose(neutral, 0.08, 0.0, nff)[MESH_POINTS], anchors])
    layout = _Layout(ff, neutral, nff, box, anchors, _mesh(topo))
    with _LAYOUTS_LOCK:
        _LAYOUTS[key] = layout
        if len(_LAYOUTS) > _LAYOUTS_MAX:
            _LAYOUTS.popitem(last=False)
    return layout


def mouth_region(lm: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The part of a ``shape`` picture :func:`animate_mouth` reads and changes for landmarks
    ``lm``, on even coordinates, so an engine can hand it just that part of a frame (``lm``
    shifted by its corner).

    It holds the warp region of the widest and most open pose (``region_box``: the mesh
    points, 0.22 face heights around, 0.1 more below, and a jaw that drops by up to
    ``MAX_OPEN * 1.2``) with room to spare for the lip and skin samples, without building the
    mesh (which :func:`animate_mouth` then builds once, for the region).
    """
    from ..picture import even_box

    h = face_frame(lm).height
    pts = lm[MESH_POINTS]
    (x0, y0), (x1, y1) = pts.min(0) - 0.35 * h, pts.max(0) + 0.35 * h
    y1 += (0.1 + 1.5 * MAX_OPEN) * h
    box = (int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1)))
    return even_box(box, shape[1], shape[0])


def animatable(lm: np.ndarray) -> bool:
    """Landmarks a mouth can be animated from: finite, and a face of at least a few pixels
    (below that the mouth is a smudge and the mesh would degenerate)."""
    if not np.isfinite(lm).all():
        return False
    return face_frame(lm).height >= MIN_FACE_PX and bool((lm[54] - lm[48]).any())


def animate_mouth(
    frame: np.ndarray,
    lm: np.ndarray,
    open_amount: float,
    shape: float,
    teeth_rgb: np.ndarray | None = None,
) -> MouthPatch:
    """Close the template mouth in ``frame`` and re-open it as the speech asks."""
    lay = _layout(lm, frame.shape[:2])
    ff, box = lay.ff, lay.box
    target = speech_pose(lay.neutral, open_amount, shape, lay.neutral_ff)
    if box[2] - box[0] < 4 or box[3] - box[1] < 4:  # mouth outside the picture
        return MouthPatch(frame[box[1] : box[3], box[0] : box[2]].copy(), box, lm.copy())
    src = np.vstack([lm[MESH_POINTS], lay.anchors])
    dst = np.vstack([target[MESH_POINTS], lay.anchors])
    area = (box[2] - box[0]) * (box[3] - box[1])
    region = warp_region(frame, box, src, dst, lay.tris, step=2 if area > COARSE_MAP_PIXELS else 1)
    off = np.array(box[:2], np.float32)
    lips = lip_colour(frame, lm)
    outer_t, inner_t = target[48:60] - off, target[60:68] - off
    clean_lips(region, outer_t, inner_t, ff, lips)
    line = lip_line(outer_t, inner_t, ff)
    filled = 0.0
    if line is not None:
        filled = fill_lip_line(region, line, outer_t, ff, lips)
    # Where the template's own mouth is open enough, the warp has already moved its real
    # interior into place; paint a synthetic one only where that would be stretched too far,
    # and where the lip-line fill has covered the squeezed template interior of barely
    # parted lips.
    target_gap = inner_gap(target, ff)
    ratio = inner_gap(lm, ff) / max(target_gap, 1e-6)
    opacity = max(float(np.clip((0.8 - ratio) / 0.3, 0.0, 1.0)), filled)
    # Closed lips (every silent frame) have no interior to paint: skip the teeth colour's
    # skin sampling too (draw_interior draws nothing below a gap of 0.6 px).
    if opacity > 0 and target_gap * ff.height >= 0.6:
        teeth = neutral_teeth(frame, lm) if teeth_rgb is None else teeth_rgb
        draw_interior(region, inner_t, ff, lips, teeth, opacity=opacity)
    if line is not None:
        draw_seam(region, line, ff, lips)
    return MouthPatch(region, box, target)
