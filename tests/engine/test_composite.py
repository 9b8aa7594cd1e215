"""The shared compositor: soft landmark mask, no seams, colour matching, stability."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from lipsync.composite import Compositor, lower_face_polygon

from .warp_fixtures import astronaut_landmarks


@pytest.fixture(scope="module")
def face():
    # Dimmed so a brightened patch never clips at 255 (clipping would itself make edges).
    return (data.astronaut() * 0.75).astype(np.uint8), astronaut_landmarks()


def _box(lm: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(lm[2:15].min(0) - 25).astype(int)
    x1, y1 = np.ceil(lm[2:15].max(0) + 25).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def _bright(image: np.ndarray, box, delta: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.clip(image[y0:y1, x0:x1].astype(int) + delta, 0, 255).astype(np.uint8)


def test_mask_is_soft_inside_and_zero_at_patch_border(face):
    img, lm = face
    box = _box(lm)
    roi, m = Compositor().mask(img.shape[:2], box, lm)
    assert roi == box
    assert m.max() == pytest.approx(1.0, abs=0.02)
    border = np.concatenate([m[0], m[-1], m[:, 0], m[:, -1]])
    assert border.max() < 0.02
    # A feathered edge: many weights strictly between 0 and 1.
    soft = ((m > 0.05) & (m < 0.95)).sum()
    assert soft > 0.1 * (m > 0.95).sum()
    # The mouth is fully covered, the eyes not at all.
    x0, y0 = roi[:2]
    cx, cy = lm[62].astype(int)
    assert m[cy - y0, cx - x0] > 0.97
    ex, ey = lm[36:48].mean(0).astype(int)
    if y0 <= ey < roi[3]:
        assert m[ey - y0, ex - x0] == 0


def test_no_brightness_step_along_the_patch_box_edge(face):
    img, lm = face
    box = _box(lm)
    out = Compositor(colour_match=False).paste(img.copy(), _bright(img, box, 45), box, lm)
    x0, y0, x1, y1 = box
    o, g = out.astype(float).mean(2), img.astype(float).mean(2)
    # Brightness step across each box edge, compared with the original picture's own.
    steps = [
        (o[y0:y1, x0] - o[y0:y1, x0 - 1]) - (g[y0:y1, x0] - g[y0:y1, x0 - 1]),
        (o[y0:y1, x1 - 1] - o[y0:y1, x1]) - (g[y0:y1, x1 - 1] - g[y0:y1, x1]),
        (o[y0, x0:x1] - o[y0 - 1, x0:x1]) - (g[y0, x0:x1] - g[y0 - 1, x0:x1]),
        (o[y1 - 1, x0:x1] - o[y1, x0:x1]) - (g[y1 - 1, x0:x1] - g[y1, x0:x1]),
    ]
    assert max(np.abs(s).max() for s in steps) <= 2.0
    # Inside, the brighter patch did arrive, and ramps up smoothly: the largest extra
    # gradient the blend adds is well below the 45-level jump of a hard paste.
    assert (o - g)[lm[62][1].astype(int), lm[62][0].astype(int)] > 35
    extra = np.abs(np.diff(o - g, axis=1))[y0:y1, x0:x1]
    assert extra.max() < 10


def test_colour_matching_brings_the_patch_to_its_surroundings(face):
    img, lm = face
    box = _box(lm)
    roi, m = Compositor().mask(img.shape[:2], box, lm)
    x0, y0, x1, y1 = roi
    inside = m > 0.9
    before = img[y0:y1, x0:x1][inside].astype(float).mean()
    raw = Compositor(colour_match=False).paste(img.copy(), _bright(img, box, 40), box, lm)
    matched = Compositor().paste(img.copy(), _bright(img, box, 40), box, lm)
    assert raw[y0:y1, x0:x1][inside].astype(float).mean() - before > 30
    assert abs(matched[y0:y1, x0:x1][inside].astype(float).mean() - before) < 4


def test_affine_placement_puts_an_aligned_patch_back_where_it_came_from(face):
    img, lm = face
    # A face-aligned crop: 1.7x larger and rotated 12 degrees, as an engine would draw it.
    c = lm[48:68].mean(0)
    to_crop = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), 12, 1.7)
    to_crop[:, 2] += (128 - c[0], 128 - c[1])
    crop = cv2.warpAffine(img, to_crop, (256, 256), flags=cv2.INTER_CUBIC)
    back = cv2.invertAffineTransform(to_crop)
    comp = Compositor(colour_match=False)
    out = comp.paste(img.copy(), crop, back, lm)
    roi, m = comp.mask(img.shape[:2], back, lm, patch_shape=(256, 256))
    x0, y0, x1, y1 = roi
    diff = np.abs(out.astype(int) - img.astype(int))[y0:y1, x0:x1].mean(2)
    assert diff[m > 0.5].mean() < 4
    # And a patch that differs does show up there.
    out2 = comp.paste(img.copy(), np.zeros_like(crop), back, lm)
    assert out2[int(c[1]), int(c[0])].max() < 20


def test_colour_gains_are_smoothed_over_time(face):
    img, lm = face
    box = _box(lm)
    roi, m = Compositor().mask(img.shape[:2], box, lm)
    x0, y0, x1, y1 = roi
    inside = m > 0.9
    comp = Compositor(smooth=0.3)
    for _ in range(6):
        comp.paste(img.copy(), _bright(img, box, 0), box, lm)
    # One frame with a brightness jump in the patch: colour matching follows only part way,
    # so the correction cannot flicker from one frame to the next.
    out = comp.paste(img.copy(), _bright(img, box, 30), box, lm)
    jump = out[y0:y1, x0:x1][inside].astype(float).mean() - img[y0:y1, x0:x1][inside].mean()
    assert 10 < jump < 28
    comp.reset()
    out = comp.paste(img.copy(), _bright(img, box, 30), box, lm)
    assert (
        abs(out[y0:y1, x0:x1][inside].astype(float).mean() - img[y0:y1, x0:x1][inside].mean()) < 4
    )


def test_polygon_covers_several_poses_and_room_for_the_jaw(face):
    _, lm = face
    low = lm.copy()
    low[5:12, 1] += 15
    both = lower_face_polygon(np.stack([lm, low]))
    assert both[:, 1].max() >= low[8, 1] - 0.5
    extended = lower_face_polygon(lm, extend_down=0.1)
    assert extended[:, 1].max() > lm[8, 1] + 3
    # The patch is skipped cleanly when it lies outside the frame.
    img = np.zeros((50, 50, 3), np.uint8)
    out = Compositor().paste(
        img.copy(), np.full((20, 20, 3), 255, np.uint8), (200, 200, 220, 220), lm
    )
    assert not out.any()


def test_blend_touches_only_where_the_mask_is_and_matches_the_plain_formula():
    from lipsync.composite import _blend

    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):  # a colour-matched patch may come as float64
        roi = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
        patch = (rng.random((50, 60, 3)) * 300 - 20).astype(dtype)
        alpha = np.zeros((50, 60), np.float32)
        alpha[10:40, 5:50] = rng.random((30, 45)).astype(np.float32)
        out = roi.astype(np.float32)
        out += (patch - out) * alpha[..., None]
        expected = np.clip(out + 0.5, 0, 255).astype(np.uint8)
        got = roi.copy()
        _blend(got, patch, alpha)
        assert np.array_equal(got, expected)
        assert np.array_equal(got[:10], roi[:10]) and np.array_equal(got[:, 50:], roi[:, 50:])
    untouched = roi.copy()
    _blend(untouched, patch, np.zeros((50, 60), np.float32))
    assert np.array_equal(untouched, roi)


def test_a_uint8_patch_blends_like_the_float_formula():
    from lipsync.composite import _blend

    rng = np.random.default_rng(2)
    roi = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    patch = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    alpha = np.zeros((50, 60), np.float32)
    alpha[10:40, 5:50] = rng.random((30, 45)).astype(np.float32)
    alpha[20, 20], alpha[21, 21] = 1.0, 0.0
    expected = roi.copy()
    _blend(expected, patch.astype(np.float32), alpha)
    got = roi.copy()
    _blend(got, patch, alpha)
    assert np.abs(got.astype(int) - expected).max() <= 1
    assert np.array_equal(got[20, 20], patch[20, 20]) and np.array_equal(got[21, 21], roi[21, 21])
    assert np.array_equal(got[:10], roi[:10]) and np.array_equal(got[:, 50:], roi[:, 50:])
