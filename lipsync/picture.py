"""Pictures as the engine holds them: I420 (YUV 4:2:0, limited range) arrays, and their sizes.

The presenter is decoded straight to I420 and handed to the encoder in I420, as the codec
stores it, so a frame's pixels are converted to RGB only where an engine draws (the mouth
region). An I420 picture of ``w x h`` (both even) is one ``(h * 3 // 2, w)`` uint8 array: the
luma rows, then the U plane and the V plane (each ``h/2 x w/2``) laid out row after row, the
layout OpenCV's ``COLOR_*_I420`` and FFmpeg's ``yuv420p`` use.

Sizes: H.264 4:2:0 needs even sizes, so an odd width or height loses its last column or row
(cropped, not padded: no invented pixels, and the loss is one pixel). Pictures larger than
:data:`MAX_WORK` (a 1920x1080 box, either orientation) are worked on scaled down to fit it and
scaled back up to their own (even) size by the writer.
"""

from __future__ import annotations

import cv2
import numpy as np

#: The largest picture worked on: long side x short side.
MAX_WORK = (1920, 1080)
#: Colour matrices by name, with the H.264/FFmpeg colour-space code the output is tagged with.
MATRIX_CODES = {"bt709": 1, "bt601": 6}
_KRKB = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}

Box = tuple[int, int, int, int]


def even_size(width: int, height: int) -> tuple[int, int]:
    """The size H.264 4:2:0 can carry: an odd width or height loses its last column or row."""
    return int(width) // 2 * 2, int(height) // 2 * 2


def working_size(width: int, height: int) -> tuple[int, int]:
    """The even size a ``width x height`` picture is worked on: its own, cropped to even, or
    scaled down to fit :data:`MAX_WORK` (in its orientation) when larger."""
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, MAX_WORK[0] / max(long_side, 1), MAX_WORK[1] / max(short_side, 1))
    if scale >= 1.0:
        return even_size(width, height)
    return (
        max(2, int(round(width * scale)) // 2 * 2),
        max(2, int(round(height * scale)) // 2 * 2),
    )


def _rgb_to_yuv(matrix: str) -> np.ndarray:
    """3x4 affine map from RGB (0..255) to limited-range Y'CbCr for ``matrix``."""
    kr, kb = _KRKB[matrix]
    luma = np.array([kr, 1.0 - kr - kb, kb])
    m = np.stack(
        [
            luma * 219 / 255,
            (np.array([0.0, 0.0, 1.0]) - luma) / (2 * (1 - kb)) * 224 / 255,
            (np.array([1.0, 0.0, 0.0]) - luma) / (2 * (1 - kr)) * 224 / 255,
        ]
    )
    return np.hstack([m, [[16.0], [128.0], [128.0]]]).astype(np.float32)


def _yuv_to_rgb(matrix: str) -> np.ndarray:
    fwd = _rgb_to_yuv(matrix).astype(np.float64)
    inv = np.linalg.inv(fwd[:, :3])
    return np.hstack([inv, (-inv @ fwd[:, 3])[:, None]]).astype(np.float32)


_TO_YUV = {m: _rgb_to_yuv(m) for m in _KRKB}
_TO_RGB = {m: _yuv_to_rgb(m) for m in _KRKB}
_ONES = np.ones((1, 3), np.float32)


def planes(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of an I420 array (``h*3/2 x w``)."""
    h, w = buf.shape[0] * 2 // 3, buf.shape[1]
    q = (h // 2) * (w // 2)
    chroma = buf[h:].reshape(-1)
    return (
        buf[:h],
        chroma[:q].reshape(h // 2, w // 2),
        chroma[q : 2 * q].reshape(h // 2, w // 2),
    )


def i420_size(buf: np.ndarray) -> tuple[int, int]:
    """(width, height) of an I420 array."""
    return int(buf.shape[1]), int(buf.shape[0] * 2 // 3)


def pack_i420(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """One I420 array from three planes (any strides)."""
    h, w = y.shape
    buf = np.empty((h * 3 // 2, w), np.uint8)
    py, pu, pv = planes(buf)
    py[:] = y
    pu[:] = u
    pv[:] = v
    return buf


def rgb_to_i420(image: np.ndarray, matrix: str = "bt709") -> np.ndarray:
    """An even-sized RGB picture as an I420 array.

    Luma by one matrix transform, chroma by the same transform of the picture box-averaged to
    half size (the transform is linear, so averaging first equals subsampling after): about
    four times cheaper than swscale's rgb24 path.
    """
    h, w = image.shape[:2]
    buf = np.empty((h * 3 // 2, w), np.uint8)
    y, u, v = planes(buf)
    m = _TO_YUV[matrix]
    y[:] = cv2.transform(image, m[:1]).reshape(h, w)
    small = cv2.transform(cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA), m)
    cv2.extractChannel(small, 1, dst=u)
    cv2.extractChannel(small, 2, dst=v)
    return buf


def i420_to_rgb(buf: np.ndarray, matrix: str = "bt709") -> np.ndarray:
    """An I420 array as an RGB picture (chroma upsampled bilinearly)."""
    y, u, v = planes(buf)
    return _yuv_planes_to_rgb(y, u, v, matrix)


def _yuv_planes_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, matrix: str) -> np.ndarray:
    h, w = y.shape
    up = (w, h)
    yuv = cv2.merge(
        [
            np.ascontiguousarray(y),
            cv2.resize(u, up, interpolation=cv2.INTER_LINEAR),
            cv2.resize(v, up, interpolation=cv2.INTER_LINEAR),
        ]
    )
    rgb: np.ndarray = cv2.transform(yuv, _TO_RGB[matrix])
    return rgb


def even_box(box: Box, width: int, height: int) -> Box:
    """``box`` (x0, y0, x1, y1) grown to even corners and clipped to a ``width x height``
    picture, so it covers whole chroma samples."""
    x0, y0, x1, y1 = box
    x0, y0 = max(0, x0 // 2 * 2), max(0, y0 // 2 * 2)
    x1, y1 = min(width, -(-x1 // 2) * 2), min(height, -(-y1 // 2) * 2)
    return x0, y0, max(x0, x1), max(y0, y1)


def region_rgb(buf: np.ndarray, box: Box, matrix: str) -> np.ndarray:
    """The RGB pixels of an even ``box`` of an I420 picture (a new array)."""
    x0, y0, x1, y1 = box
    y, u, v = planes(buf)
    return _yuv_planes_to_rgb(
        y[y0:y1, x0:x1],
        u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2],
        v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2],
        matrix,
    )


def put_region(buf: np.ndarray, box: Box, rgb: np.ndarray, before: np.ndarray, matrix: str) -> None:
    """Write the pixels of ``rgb`` (the even ``box``'s region) that differ from ``before``
    back into the I420 picture; the others keep their exact YUV values, so no seam shows where
    the region ends."""
    # Summed absolute difference (saturating): non-zero wherever any channel changed.
    diff = cv2.transform(cv2.absdiff(rgb, before), _ONES)
    if not cv2.countNonZero(diff):
        return
    changed = cv2.threshold(diff, 0, 255, cv2.THRESH_BINARY)[1]
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    ys, us, vs = planes(buf)
    m = _TO_YUV[matrix]
    cv2.copyTo(cv2.transform(rgb, m[:1]), changed, ys[y0:y1, x0:x1])
    small = cv2.transform(cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA), m)
    # Non-zero where any of the 2x2 pixels changed (one 255 of four averages to 64).
    c = cv2.resize(changed, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    cv2.copyTo(cv2.extractChannel(small, 1), c, us[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2])
    cv2.copyTo(cv2.extractChannel(small, 2), c, vs[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2])
