"""Streaming presenter decoder: constant frame rate, rotation applied, one frame at a time.

Output frame ``i`` shows the latest decoded frame whose presentation time is ``<= i / fps``
(duplicating or dropping source frames as needed), so variable-frame-rate phone clips come out
at a constant rate with their timing kept. A still image is a one-frame source.
"""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol, cast

import av
import numpy as np

from ..errors import NoVideoStreamError, TruncatedMediaError, reason
from .probe import (
    TRUNCATED_AT,
    TRUNCATED_AT_START,
    MediaInfo,
    PathLike,
    declared_duration,
    open_container,
    probe,
)

NO_VIDEO_STREAM = reason("no video stream or image")
IMAGE_DAMAGED = reason("image is damaged")
IMAGE_UNDECODABLE = reason("image is damaged (nothing could be decoded)")

#: Frame rate given to still images.
STILL_FPS = 25.0
_STANDARD_RATES = (
    12.0,
    15.0,
    24000 / 1001,
    24.0,
    25.0,
    30000 / 1001,
    30.0,
    48.0,
    50.0,
    60000 / 1001,
    60.0,
)
#: Time slack when comparing presentation times with output times (seconds).
_EPS = 1e-3


@dataclass(frozen=True)
class Frame:
    index: int
    time_s: float
    image: np.ndarray  # H x W x 3 uint8 RGB, rotation applied


class FrameLike(Protocol):
    """What the engine reads of a decoded frame: a :class:`Frame`, or any object with these."""

    @property
    def index(self) -> int: ...

    @property
    def image(self) -> np.ndarray: ...


def output_fps(info: MediaInfo) -> float:
    """The constant rate a video is delivered at when the caller does not ask for one.

    A constant-rate stream keeps its own rate; a variable-rate one takes the standard rate
    within 3% of its average, else the average rounded to a whole number.
    """
    if info.is_image or not info.fps:
        return STILL_FPS
    if not info.vfr:
        return info.fps
    for rate in _STANDARD_RATES:
        if abs(info.fps - rate) <= 0.03 * rate:
            return rate
    return float(max(1, round(info.fps)))


def truncation_tolerance(duration_s: float, fps: float = 0.0) -> float:
    """How much earlier than declared a stream may end before we call it truncated."""
    return max(0.5, 0.03 * duration_s, 2.0 / fps if fps else 0.0)


class VideoSource:
    """A presenter video (or photo) read as a constant-rate stream of RGB frames.

    Nothing is decoded until :meth:`frames` is iterated; each iteration opens the file anew and
    holds only the current and the previous decoded frame in memory.
    """

    def __init__(self, path: PathLike, fps: float | None = None) -> None:
        self.path = os.fspath(path)
        self._open: weakref.WeakSet[Generator[Frame, None, None]] = weakref.WeakSet()
        self.info = probe(self.path)
        if not self.info.has_video:
            raise NoVideoStreamError(self.path, NO_VIDEO_STREAM)
        if fps is not None and not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = float(fps) if fps else output_fps(self.info)
        self.width = self.info.width
        self.height = self.info.height
        self.rotation = self.info.rotation
        self.is_image = self.info.is_image
        if self.is_image:
            self.frame_count = 1
            self.duration_s = 1.0 / self.fps
        else:
            self.duration_s = self._video_duration()
            self.frame_count = max(1, int(math.floor(self.duration_s * self.fps + 0.5)))

    def _video_duration(self) -> float:
        d = declared_duration(self.info, "video")
        if d:
            return d
        if self.info.duration_s:
            return self.info.duration_s
        if self.info.video_frames and self.info.fps:
            return self.info.video_frames / self.info.fps
        return 0.0

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file handles of iterations that were left unfinished."""
        for gen in list(self._open):
            gen.close()
        self._open.clear()

    def __len__(self) -> int:
        return self.frame_count

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self, start: int = 0) -> Iterator[Frame]:
        """Yield exactly ``frame_count - start`` frames, from output index ``start``."""
        start = max(0, int(start))
        if self.is_image:
            return iter([Frame(0, 0.0, self._still())] if start == 0 else [])
        gen = self._frames(start)
        self._open.add(gen)
        return gen

    def _frames(self, start: int) -> Generator[Frame, None, None]:
        container = open_container(self.path)
        try:
            yield from self._stream(container, start)
        finally:
            container.close()

    def _still(self) -> np.ndarray:
        container = open_container(self.path)
        try:
            for frame in container.decode(video=0):
                return self._to_rgb(frame)
        except av.FFmpegError as exc:
            raise TruncatedMediaError(self.path, IMAGE_DAMAGED) from exc
        finally:
            container.close()
        raise TruncatedMediaError(self.path, IMAGE_UNDECODABLE)

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        image: np.ndarray = frame.to_ndarray(format="rgb24")
        k = (self.rotation // 90) % 4
        if k:
            image = np.ascontiguousarray(np.rot90(image, k=k))
        return image

    def _stream(self, container: av.container.InputContainer, start: int) -> Iterator[Frame]:
        stream = next(s for s in container.streams.video if s.codec_context is not None)
        stream.thread_type = "AUTO"
        tb = cast(Fraction, stream.time_base)  # set on every stream FFmpeg demuxes
        origin: int | None = None
        n, fps = self.frame_count, self.fps
        i = start
        prev = None  # latest decoded frame at or before the next output time
        last_time = 0.0
        step = 1.0 / (self.info.fps or fps)
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    if frame.pts is None:
                        t = last_time + step if prev is not None else 0.0
                    else:
                        if origin is None:
                            origin = frame.pts
                        t = float((frame.pts - origin) * tb)
                    if prev is not None and t < last_time - _EPS:
                        continue  # out-of-order stray frame: keep time monotonic
                    while i < n and i / fps < t - _EPS:
                        # Each yield gets its own array: a duplicate is converted again
                        # rather than shared, so callers may draw on what they receive.
                        yield Frame(i, i / fps, self._to_rgb(prev if prev is not None else frame))
                        i += 1
                    if i >= n:
                        return
                    prev, last_time = frame, t
        except av.FFmpegError as exc:
            raise TruncatedMediaError(self.path, TRUNCATED_AT, {"t": f"{last_time:.1f}"}) from exc
        if prev is None:
            raise TruncatedMediaError(self.path, TRUNCATED_AT_START)
        end = last_time + step
        declared = declared_duration(self.info, "video")
        if declared and declared - end > truncation_tolerance(declared, fps):
            raise TruncatedMediaError(self.path, TRUNCATED_AT, {"t": f"{end:.1f}"})
        while i < n:
            yield Frame(i, i / fps, self._to_rgb(prev))
            i += 1


def open_video(path: PathLike, fps: float | None = None) -> VideoSource:
    """Open a presenter video or photo; see :class:`VideoSource`."""
    return VideoSource(path, fps=fps)
