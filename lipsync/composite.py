"""Pasting a re-drawn face region back into the frame, shared by every engine.

An engine produces a *patch* (its re-drawn mouth/lower face) and where it goes: an integer box
(the patch is resized to it) or a 2x3 affine matrix from patch to frame coordinates (for patches
drawn in a face-aligned crop). :class:`Compositor` blends it in with

* a soft mask from the landmarks (lower face: jaw line and under the nose), feathered with a
  Gaussian proportional to the face size and kept clear of the patch border, so no rectangle
  edge can show;
* colour matching: the patch is shifted/scaled per channel so that, in a ring just outside the
  mask where patch and frame both have pixels, it agrees with the frame;
* temporal stability: landmarks and colour gains are smoothed across calls (exponential moving
  average), reset when the face jumps (a cut) or by :meth:`Compositor.reset` between renders.

One Compositor per render (it holds the smoothing state); not thread-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# Lower face outline: jaw from below the cheekbones round the chin, closed under the nose.
LOWER_FACE = np.r_[np.arange(2, 15), np.array([35, 34, 33, 32, 31])]

Box = tuple[int, int, int, int]
Where = Box | Sequence[int] | np.ndarray


@dataclass
class _MaskContext:
    """What colour matching needs to know about the mask, at the mask's working scale."""

    poly: np.ndarray  # polygon in roi pixels
    scale: tuple[float, float]
    step: int  # downscale factor of the working grid
    sigma: float  # feather in roi pixels
    inner: np.ndarray  # where the patch is valid, far enough from its border


@dataclass
class _Geometry:
    roi: Box  # frame region touched, (x0, y0, x1, y1)
    patch: np.ndarray  # patch resampled into the roi, float32
    valid: np.ndarray  # 1 where the patch has pixels, float32 (roi-sized)


def face_height(lm: np.ndarray) -> float:
    """Eyes-to-chin distance: the unit of every size here."""
    eyes = lm[36:48].mean(0)
    return max(float(np.hypot(*(lm[8] - eyes))), 4.0)


def lower_face_polygon(landmarks: np.ndarray, extend_down: float = 0.0) -> np.ndarray:
    """Convex outline of the lower face of one or several (68, 2) landmark sets.

    ``extend_down`` (fraction of face height) pushes the jaw points down, leaving room for a
    jaw that drops further than the landmarks say.
    """
    sets = np.asarray(landmarks, np.float32).reshape(-1, 68, 2)
    pts = []
    for lm in sets:
        p = lm[LOWER_FACE].copy()
        if extend_down:
            down = lm[8] - lm[27]
            down = down / max(float(np.hypot(*down)), 1e-6)
            p[:13] += down * extend_down * face_height(lm)
        pts.append(p)
    return cv2.convexHull(np.vstack(pts)).reshape(-1, 2)


class Compositor:
    """Blends engine patches into frames with a soft landmark mask and colour matching.

    ``feather`` and ``ring`` are fractions of the face height; ``smooth`` is the weight of the
    newest value in the moving averages (1 = no smoothing).
    """

    def __init__(
        self,
        feather: float = 0.045,
        ring: float = 0.08,
        smooth: float = 0.5,
        extend_down: float = 0.0,
        colour_match: bool = True,
        max_gain: float = 1.5,
    ) -> None:
        self.feather = feather
        self.ring = ring
        self.smooth = smooth
        self.extend_down = extend_down
        self.colour_match = colour_match
        self.max_gain = max_gain
        self.reset()

    def reset(self) -> None:
        """Forget the smoothing state (call between unrelated shots or renders)."""
        self._lm: np.ndarray | None = None
        self._gain: np.ndarray | None = None
        self._offset: np.ndarray | None = None

    # -- public ---------------------------------------------------------------------------
    def paste(
        self,
        frame: np.ndarray,
        patch: np.ndarray,
        where: Where,
        landmarks: np.ndarray,
        mask: np.ndarray | None = None,
        strength: float = 1.0,
        origin: tuple[float, float] = (0.0, 0.0),
    ) -> np.ndarray:
        """Blend ``patch`` into ``frame`` (modified in place and returned).

        ``frame`` may be a region of the whole picture whose top-left corner is at ``origin``
        (``where`` and ``landmarks`` in the region's coordinates): the smoothing across calls
        then still follows the face in the picture when the region moves.

        ``where`` is a box ``(x0, y0, x1, y1)`` the patch is resized to, or a 2x3 affine matrix
        mapping patch pixels to frame pixels. ``landmarks`` (68, 2), or (k, 68, 2) to cover
        several poses (e.g. the template's and the animated jaw), in frame coordinates.
        ``mask`` (optional, any size, 0..1 or uint8 0..255) covers the patch and narrows the
        landmark mask further (e.g. a face-parsing mask); ``strength`` (0..1) scales the blend,
        for fading an engine in and out.
        """
        shift = np.asarray(origin, np.float32)
        lm_sets = np.asarray(landmarks, np.float32).reshape(-1, 68, 2)
        lm_sets = self._smoothed(lm_sets + shift) - shift
        geo = self._place(frame.shape[:2], patch, where)
        if geo is None:
            return frame
        x0, y0, x1, y1 = geo.roi
        alpha, ctx = self._alpha(geo, lm_sets)
        if alpha is None or ctx is None:  # both or neither
            return frame
        if mask is not None:
            alpha = alpha * self._patch_mask(frame.shape[:2], patch.shape[:2], mask, where)
        if strength < 1.0:
            alpha = alpha * float(max(strength, 0.0))
        roi = frame[y0:y1, x0:x1]
        patch_f = geo.patch
        if self.colour_match:
            patch_f = self._match_colour(roi, patch_f.astype(np.float32), alpha, geo.valid, ctx)
        _blend(roi, patch_f, alpha)
        return frame

    def mask(
        self,
        shape: tuple[int, int],
        where: Where,
        landmarks: np.ndarray,
        patch_shape: tuple[int, int] | None = None,
    ) -> tuple[Box, np.ndarray]:
        """The blend weights a paste would use: (roi box, float32 mask of the roi's size).

        Does not touch the smoothing state.
        """
        if patch_shape is None:
            if isinstance(where, np.ndarray) and where.shape == (2, 3):
                raise ValueError("patch_shape is needed with an affine placement")
            x0, y0, x1, y1 = (int(v) for v in where)
            patch_shape = (y1 - y0, x1 - x0)
        dummy = np.zeros((*patch_shape, 3), np.uint8)
        geo = self._place(shape, dummy, where)
        if geo is None:
            return (0, 0, 0, 0), np.zeros((0, 0), np.float32)
        lm_sets = np.asarray(landmarks, np.float32).reshape(-1, 68, 2)
        alpha, _ = self._alpha(geo, lm_sets)
        return geo.roi, (np.zeros(geo.valid.shape, np.float32) if alpha is None else alpha)

    def _patch_mask(
        self,
        shape: tuple[int, int],
        patch_shape: tuple[int, ...],
        mask: np.ndarray,
        where: Where,
    ) -> np.ndarray:
        """``mask`` (patch coordinates) placed like the patch: roi-sized float32 in 0..1."""
        m = np.asarray(mask, np.float32)
        if mask.dtype == np.uint8:
            m = m / 255.0
        ph, pw = patch_shape[:2]
        if m.shape[:2] != (ph, pw):
            m = cv2.resize(m, (pw, ph), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        geo = self._place(shape, m, where)
        return np.zeros((0, 0), np.float32) if geo is None else np.clip(geo.patch, 0.0, 1.0)

    # -- steps ----------------------------------------------------------------------------
    def _smoothed(self, sets: np.ndarray) -> np.ndarray:
        h = face_height(sets[0])
        if self._lm is not None and self._lm.shape == sets.shape:
            jump = float(np.abs(sets - self._lm).mean())
            if jump < 0.08 * h:
                sets = self._lm + (sets - self._lm) * self.smooth
            else:
                self._gain = self._offset = None
        self._lm = sets
        return sets

    def _place(self, shape: tuple[int, int], patch: np.ndarray, where: Where) -> _Geometry | None:
        H, W = shape
        ph, pw = patch.shape[:2]
        if isinstance(where, np.ndarray) and where.shape == (2, 3):
            M = where.astype(np.float64)
            corners = np.array([[0, 0], [pw, 0], [0, ph], [pw, ph]], np.float64)
            fc = corners @ M[:, :2].T + M[:, 2]
            x0, y0 = np.floor(fc.min(0)).astype(int)
            x1, y1 = np.ceil(fc.max(0)).astype(int)
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
            if x1 - x0 < 2 or y1 - y0 < 2:
                return None
            Mr = M.copy()
            Mr[:, 2] -= (x0, y0)
            size = (x1 - x0, y1 - y0)
            warped = cv2.warpAffine(
                patch, Mr, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            ).astype(np.float32)
            valid = cv2.warpAffine(
                np.ones((ph, pw), np.float32),
                Mr,
                size,
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
            )
            return _Geometry((x0, y0, x1, y1), warped, valid)
        bx0, by0, bx1, by1 = (int(round(float(v))) for v in where)
        if bx1 - bx0 < 2 or by1 - by0 < 2:
            return None
        if (bx1 - bx0, by1 - by0) != (pw, ph):
            patch = cv2.resize(patch, (bx1 - bx0, by1 - by0), interpolation=cv2.INTER_LINEAR)
        x0, y0, x1, y1 = max(bx0, 0), max(by0, 0), min(bx1, W), min(by1, H)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        # Kept in its own type: a uint8 patch blends in one pass (:func:`_blend`).
        cut = patch[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
        valid = np.zeros((y1 - y0, x1 - x0), np.float32)
        # Only the patch's own edges limit it, not the frame's.
        valid[
            (1 if by0 >= 0 else 0) : (y1 - y0) - (1 if by1 <= H else 0),
            (1 if bx0 >= 0 else 0) : (x1 - x0) - (1 if bx1 <= W else 0),
        ] = 1
        if by0 >= 0:
            valid[0] = 0
        return _Geometry((x0, y0, x1, y1), cut, valid)

    def _alpha(
        self, geo: _Geometry, lm_sets: np.ndarray
    ) -> tuple[np.ndarray | None, _MaskContext | None]:
        x0, y0, _x1, _y1 = geo.roi
        h, w = geo.valid.shape
        fh = face_height(lm_sets[0])
        sigma = max(self.feather * fh, 1.0)
        # Work at reduced resolution for wide feathers: the mask is smooth anyway.
        k = int(np.clip(sigma // 3, 1, 8))
        sw, sh = max(w // k, 2), max(h // k, 2)
        sx, sy = sw / w, sh / h
        poly = lower_face_polygon(lm_sets, self.extend_down) - (x0, y0)
        hard = np.zeros((sh, sw), np.uint8)
        cv2.fillPoly(
            hard,
            [np.round(poly * (sx, sy) * 16).astype(np.int32)],
            255,
            lineType=cv2.LINE_AA,
            shift=4,
        )
        valid_s = cv2.resize(geo.valid, (sw, sh), interpolation=cv2.INTER_AREA)
        margin = int(np.ceil(2.5 * sigma / k)) + 1
        inner = cv2.erode(
            (valid_s > 0.99).astype(np.uint8),
            cv2.getStructuringElement(cv2.MORPH_RECT, (2 * margin + 1, 2 * margin + 1)),
            borderType=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        m: np.ndarray = (hard.astype(np.float32) / 255) * inner
        if not m.any():
            return None, None
        m = cv2.GaussianBlur(m, (0, 0), sigma / k, borderType=cv2.BORDER_CONSTANT)
        # The polygon's own edge is where the blend is half way; lift the inside back to 1.
        m = np.clip(m * 1.6, 0, 1)
        if k > 1:
            m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
        m *= geo.valid
        return m, _MaskContext(poly, (sx, sy), k, sigma, inner)

    def _match_colour(
        self,
        roi: np.ndarray,
        patch: np.ndarray,
        alpha: np.ndarray,
        valid: np.ndarray,
        ctx: _MaskContext,
    ) -> np.ndarray:
        """Per-channel gain/offset so the patch agrees with the frame around the mask."""
        h, w = alpha.shape
        poly, (sx, sy), k, sigma, inner = ctx.poly, ctx.scale, ctx.step, ctx.sigma, ctx.inner
        fh_ring = max(int(np.ceil(self.ring / self.feather * sigma / k)), 2)
        sh, sw = inner.shape
        grown = np.zeros((sh, sw), np.uint8)
        cv2.fillPoly(grown, [np.round(poly * (sx, sy)).astype(np.int32)], 1)
        outer = cv2.dilate(
            grown, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * fh_ring + 1, 2 * fh_ring + 1))
        )
        ring = (outer > 0) & (_resized(valid, sw, sh) > 0.99)
        # Ring outside the polygon where the patch is valid; fall back to the blend band.
        ring_out = ring & (grown == 0)
        if ring_out.sum() >= 12:
            sel = ring_out
        else:
            a_small = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA)
            sel = (a_small > 0.05) & (a_small < 0.95)
            if sel.sum() < 12:
                return patch
        ys, xs = np.nonzero(sel)
        ys = np.minimum((ys * h) // sh + (h // sh) // 2, h - 1)
        xs = np.minimum((xs * w) // sw + (w // sw) // 2, w - 1)
        f = roi[ys, xs].astype(np.float32)
        p = patch[ys, xs]
        mf, mp = f.mean(0), p.mean(0)
        gain = np.clip((f.std(0) + 2.0) / (p.std(0) + 2.0), 1 / self.max_gain, self.max_gain)
        offset = mf - mp * gain
        if self._gain is not None:
            gain = self._gain + (gain - self._gain) * self.smooth
            offset = self._offset + (offset - self._offset) * self.smooth
        self._gain, self._offset = gain, offset
        matched: np.ndarray = patch * gain + offset
        return matched


def _blend(roi: np.ndarray, patch: np.ndarray, alpha: np.ndarray) -> None:
    """``roi`` (uint8, in place) moved towards ``patch`` (uint8 or float) by ``alpha`` (0..1).

    Only the rows and columns where ``alpha`` is above 0 are touched (about three quarters of
    a mouth patch's box: the rest would come back unchanged): this runs on every frame of
    every render. A uint8 patch blends in one OpenCV pass (rounded alike, at most one level
    apart from the float formula); a float one (colour-matched, may exceed 0..255) in place,
    in one float buffer.
    """
    rows = np.flatnonzero(alpha.max(axis=1) > 0)
    if rows.size == 0:
        return
    cols = np.flatnonzero(alpha[rows[0] : rows[-1] + 1].max(axis=0) > 0)
    ys, xs = slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)
    dst = roi[ys, xs]
    if patch.dtype == np.uint8:
        a = np.ascontiguousarray(alpha[ys, xs], np.float32)
        src = np.ascontiguousarray(patch[ys, xs])
        dst[...] = cv2.blendLinear(src, np.ascontiguousarray(dst), a, 1.0 - a)
        return
    out = dst.astype(np.float32)
    diff = patch[ys, xs] - out
    diff *= alpha[ys, xs, None]
    out += diff
    out += 0.5
    np.clip(out, 0, 255, out=out)
    dst[...] = out.astype(np.uint8)


def _resized(valid: np.ndarray, w: int, h: int) -> np.ndarray:
    if valid.shape == (h, w):
        return valid
    return cv2.resize(valid, (w, h), interpolation=cv2.INTER_AREA)
