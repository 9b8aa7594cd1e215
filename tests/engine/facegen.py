"""Synthetic presenter clips for the face tests: a real face photo moved over a background."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

from lipsync.faces.detector import Box, Detection, FaceDetector

#: Region of skimage's astronaut photo cut out as "the face" and where the face is inside it.
_CROP = (120, 30, 330, 240)  # x0, y0, x1, y1 in the photo
FACE_IN_CROP = (59.0, 53.0, 147.0, 141.0)  # dlib's box of the face inside that crop


def face_crop(scale: float = 1.0, flip: bool = False) -> np.ndarray:
    x0, y0, x1, y1 = _CROP
    crop = data.astronaut()[y0:y1, x0:x1]
    if flip:
        crop = crop[:, ::-1]
    if scale != 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(crop)


def background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth coloured texture: no face, but not flat either."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, size=(6, 8, 3)).astype(np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def paste(canvas: np.ndarray, crop: np.ndarray, x: float, y: float) -> np.ndarray:
    """A copy of ``canvas`` with ``crop``'s top-left corner at (x, y) (sub-pixel, clipped)."""
    out = canvas.copy()
    ix, iy = int(np.floor(x)), int(np.floor(y))
    shift = np.float32([[1, 0, x - ix], [0, 1, y - iy]])
    h, w = crop.shape[:2]
    moved = cv2.warpAffine(crop, shift, (w, h), borderMode=cv2.BORDER_REPLICATE)
    x0, y0 = max(ix, 0), max(iy, 0)
    x1, y1 = min(ix + w, out.shape[1]), min(iy + h, out.shape[0])
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = moved[y0 - iy : y1 - iy, x0 - ix : x1 - ix]
    return out


@dataclass(frozen=True)
class Frame:
    index: int
    time_s: float
    image: np.ndarray


class MemorySource:
    """Frames held in memory, shaped like ``open_video``'s source."""

    def __init__(
        self, frames: Sequence[np.ndarray], fps: float = 25.0, path: str = "memory.mp4"
    ) -> None:
        self._frames = list(frames)
        self.fps = fps
        self.height, self.width = self._frames[0].shape[:2]
        self.frame_count = len(self._frames)
        self.path = path

    def __iter__(self) -> Iterator[Frame]:
        for i, image in enumerate(self._frames):
            yield Frame(i, i / self.fps, image)


def write_clip(path: Path, frames: Sequence[np.ndarray], fps: int = 25) -> Path:
    """Encode ``frames`` as an H.264 MP4 (near-lossless so the faces stay detectable)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12", "preset": "ultrafast"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def moving_face(
    n: int = 40, width: int = 640, height: int = 360, scale: float = 1.2, seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames of one face gliding right and down; returns (frames, true face box per frame)."""
    crop = face_crop(scale)
    bg = background(width, height, seed)
    t = np.arange(n, dtype=np.float64)
    xs = 60 + 4.5 * t
    ys = 40 + 40 * np.sin(t / n * np.pi)
    frames = [paste(bg, crop, x, y) for x, y in zip(xs, ys)]
    fx0, fy0, fx1, fy1 = (v * scale for v in FACE_IN_CROP)
    boxes = np.stack([xs + fx0, ys + fy0, xs + fx1, ys + fy1], axis=1)
    return frames, boxes


class CountingDetector(FaceDetector):
    """Wraps a real detector and counts the calls into it."""

    def __init__(self, inner: FaceDetector) -> None:
        self.inner = inner
        self.name = inner.name
        self.version = inner.version
        self.min_face = inner.min_face
        self.detect_calls = 0
        self.landmark_calls = 0

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        self.detect_calls += 1
        return self.inner.detect(image_rgb)

    def landmarks(self, image_rgb: np.ndarray, box: Box) -> np.ndarray:
        self.landmark_calls += 1
        return self.inner.landmarks(image_rgb, box)

    def descriptor(self, image_rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
        return self.inner.descriptor(image_rgb, landmarks)


def two_faces(width: int = 640, height: int = 360) -> tuple[np.ndarray, list[Box]]:
    """A picture of two people side by side (the astronaut, and her mirror image a little
    larger on the right); returns it and the true face boxes, left to right."""
    left, right = face_crop(1.0), face_crop(1.15, flip=True)
    canvas = background(width, height, seed=3)
    lx, ly = 40.0, 70.0
    rx, ry = width - 40.0 - right.shape[1], 50.0
    canvas = paste(paste(canvas, left, lx, ly), right, rx, ry)
    fx0, fy0, fx1, fy1 = FACE_IN_CROP
    w1 = right.shape[1]
    boxes = [
        (lx + fx0, ly + fy0, lx + fx1, ly + fy1),
        # mirrored: the face's box flips inside its crop
        (rx + w1 - fx1 * 1.15, ry + fy0 * 1.15, rx + w1 - fx0 * 1.15, ry + fy1 * 1.15),
    ]
    return canvas, boxes
