"""Streaming presenter decoder: constant frame rate, rotation applied, one frame at a time.

Frames come as RGB (face tracking, checks) or as I420 (the render, :mod:`lipsync.picture`), at
the *working size*: the picture's own size with an odd width or height cropped by one pixel,
scaled down to fit 1920x1080 when larger. Any pixel format is accepted: alpha is composited
over white, grayscale and palette pictures become colour, 10-bit, 4:2:2, 4:4:4 and full-range
YUV are converted to 8-bit limited-range 4:2:0; plain 8-bit 4:2:0 is passed through.

Output frame ``i`` shows the latest decoded frame whose presentation time is ``<= i / fps``
(duplicating or dropping source frames as needed), so variable-frame-rate phone clips come out
at a constant rate with their timing kept. A still image is a one-frame source.
"""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol, cast

import av
import numpy as np

from ..errors import InputError, NoVideoStreamError, TruncatedMediaError, reason, what_to_do
from ..picture import even_size, pack_i420, rgb_to_i420, working_size
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
TOO_SMALL = reason(
    "the picture is too small (%(size)s); it needs at least 2x2 pixels",
    what_to_do("choose a photo or video in which the presenter's face is large and clear"),
)

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
    image: np.ndarray  # H x W x 3 uint8 RGB, or I420 (H*3/2 x W), rotation applied


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
    """A presenter video (or photo) read as a constant-rate stream of RGB or I420 frames.

    ``width``/``height`` are the working size (see the module's docstring),
    ``output_width``/``output_height`` the even size a render delivers, ``matrix`` the colour
    matrix of its I420 frames.

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
        self.rotation = self.info.rotation
        self.is_image = self.info.is_image
        #: The picture's display size, the even size delivered, and the size worked on.
        self.source_width, self.source_height = self.info.width, self.info.height
        if min(self.source_width, self.source_height) < 2:
            raise InputError(
                self.path, TOO_SMALL, {"size": f"{self.source_width}x{self.source_height}"}
            )
        self.output_width, self.output_height = even_size(self.source_width, self.source_height)
        self.width, self.height = working_size(self.source_width, self.source_height)
        self.matrix = "bt709" if self.is_image else _stream_matrix(self.path)
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

    def frames(self, start: int = 0, i420: bool = False) -> Iterator[Frame]:
        """Yield exactly ``frame_count - start`` frames, from output index ``start``: RGB, or
        I420 arrays in :attr:`matrix` with ``i420``."""
        start = max(0, int(start))
        if self.is_image:
            if start:
                return iter([])
            still = self._still()
            return iter([Frame(0, 0.0, rgb_to_i420(still, self.matrix) if i420 else still)])
        gen = self._frames(start, self._to_i420 if i420 else self._to_rgb)
        self._open.add(gen)
        return gen

    def _frames(
        self, start: int, convert: Callable[[av.VideoFrame], np.ndarray]
    ) -> Generator[Frame, None, None]:
        container = open_container(self.path)
        try:
            yield from self._stream(container, start, convert)
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

    def _stored_size(self) -> tuple[int, int]:
        """The working size in the orientation the frames are stored in."""
        if (self.rotation // 90) % 2:
            return self.height, self.width
        return self.width, self.height

    def _scaled(self, frame: av.VideoFrame) -> bool:
        return (frame.width // 2 * 2, frame.height // 2 * 2) != self._stored_size()

    def _rotate(self, image: np.ndarray) -> np.ndarray:
        k = (self.rotation // 90) % 4
        return np.ascontiguousarray(np.rot90(image, k=k)) if k else image

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """RGB at the working size; alpha composited over white."""
        w, h = self._stored_size()
        alpha = _has_alpha(frame.format)
        fmt = "rgba" if alpha else "rgb24"
        if self._scaled(frame):
            image: np.ndarray = frame.reformat(
                width=w, height=h, format=fmt, interpolation="AREA"
            ).to_ndarray()
        else:
            image = frame.to_ndarray(format=fmt)[:h, :w]
        if alpha:
            image = _over_white(image)
        return self._rotate(np.ascontiguousarray(image))

    def _to_i420(self, frame: av.VideoFrame) -> np.ndarray:
        """I420 at the working size: 8-bit limited-range 4:2:0 passes through untouched."""
        name = frame.format.name
        if _has_alpha(frame.format) or not name.startswith(("yuv", "nv12", "nv21")):
            return rgb_to_i420(self._to_rgb(frame), self.matrix)
        w, h = self._stored_size()
        full = name.startswith("yuvj") or int(frame.color_range) == 2
        if name != "yuv420p" or full or self._scaled(frame):
            cs = "ITU709" if self.matrix == "bt709" else "ITU601"
            scaled = self._scaled(frame)
            frame = frame.reformat(
                width=w if scaled else None,
                height=h if scaled else None,
                format="yuv420p",
                src_colorspace=cs,
                dst_colorspace=cs,
                src_color_range="JPEG" if full else "MPEG",
                dst_color_range="MPEG",
                interpolation="AREA" if scaled else None,
            )
        elif (frame.width, frame.height, self.rotation % 360) == (w, h, 0):
            packed: np.ndarray = frame.to_ndarray()  # already the I420 layout, one copy
            return packed
        y, u, v = (_plane(frame, i) for i in range(3))
        y, u, v = y[:h, :w], u[: h // 2, : w // 2], v[: h // 2, : w // 2]
        if self.rotation % 360:
            y, u, v = self._rotate(y), self._rotate(u), self._rotate(v)
        return pack_i420(y, u, v)

    def _stream(
        self,
        container: av.container.InputContainer,
        start: int,
        convert: Callable[[av.VideoFrame], np.ndarray],
    ) -> Iterator[Frame]:
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
                        yield Frame(i, i / fps, convert(prev if prev is not None else frame))
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
            yield Frame(i, i / fps, convert(prev))
            i += 1


def _plane(frame: av.VideoFrame, i: int) -> np.ndarray:
    """Plane ``i`` of an 8-bit planar frame as a (height, width) view of its buffer."""
    plane = frame.planes[i]
    rows = np.frombuffer(memoryview(plane), np.uint8, count=plane.line_size * plane.height)
    view: np.ndarray = rows.reshape(plane.height, plane.line_size)[:, : plane.width]
    return view


def _has_alpha(fmt: av.video.format.VideoFormat) -> bool:
    """Whether pictures of ``fmt`` may be transparent (an alpha plane, or a palette)."""
    return fmt.has_palette or any(c.is_alpha for c in fmt.components)


def _over_white(rgba: np.ndarray) -> np.ndarray:
    """An RGBA picture composited over white (transparent pixels become white)."""
    a = rgba[..., 3:].astype(np.uint16)
    out = (rgba[..., :3].astype(np.uint16) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def _stream_matrix(path: str) -> str:
    """The colour matrix frames are worked in: BT.709 when the stream says so, else BT.601
    (what FFmpeg assumes for an untagged stream), so 4:2:0 passes through unconverted."""
    container = open_container(path)
    try:
        streams = [s for s in container.streams.video if s.codec_context is not None]
        if streams and int(streams[0].codec_context.colorspace) == 1:
            return "bt709"
        return "bt601"
    finally:
        container.close()


def open_video(path: PathLike, fps: float | None = None) -> VideoSource:
    """Open a presenter video or photo; see :class:`VideoSource`."""
    return VideoSource(path, fps=fps)
