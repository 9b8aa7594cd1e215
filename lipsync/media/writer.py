"""MP4 writer: H.264 yuv420p video plus the speech track as AAC, written atomically.

Frames arrive as RGB arrays; the speech is decoded (at its own sample rate and channels where
AAC allows) and encoded alongside them so the file is interleaved for progressive playback, and
at :meth:`VideoWriter.close` the audio is trimmed or padded to exactly the video's length.
Everything goes to a temporary file next to ``out`` that is renamed into place only when
complete.
"""

from __future__ import annotations

import functools
import logging
import os
import uuid
from collections.abc import Generator, Sequence
from fractions import Fraction
from types import TracebackType
from typing import cast

import av
import numpy as np

from ..errors import NoAudioStreamError, TruncatedMediaError
from ..picture import MATRIX_CODES, i420_size, i420_to_rgb, rgb_to_i420
from ..subtitles import Cue, SoftSubtitles, SubtitleBurner
from .probe import NO_AUDIO_STREAM, TRUNCATED_AT, PathLike, frame_rate_fraction, open_container

log = logging.getLogger(__name__)

#: Sample rates AAC (MPEG-4 audio) defines; the speech keeps its own when it is one of them.
AAC_RATES = (
    7350,
    8000,
    11025,
    12000,
    16000,
    22050,
    24000,
    32000,
    44100,
    48000,
    64000,
    88200,
    96000,
)
#: Layouts for a speech file whose own layout has no name, by channel count (AAC's up to 7.1).
AAC_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "4.0", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
#: Named layouts the AAC encoder takes as they are (others become :data:`AAC_LAYOUTS`'s).
AAC_NAMED_LAYOUTS = frozenset(
    {
        *AAC_LAYOUTS.values(),
        "2.1",
        "quad",
        "5.0(side)",
        "5.1(side)",
        "6.0",
        "7.1(wide)",
        "octagonal",
    }
)
#: Audio bitrate of mono and stereo output; more channels get 64 kbit/s each.
AUDIO_BITRATE = 128_000
_NVENC_PRESETS = {
    "ultrafast": "p1",
    "superfast": "p1",
    "veryfast": "p2",
    "faster": "p3",
    "fast": "p3",
    "medium": "p4",
    "slow": "p5",
    "slower": "p6",
    "veryslow": "p7",
}


def rgb_to_yuv420p(image: np.ndarray, matrix: str = "bt709") -> av.VideoFrame:
    """An even-sized RGB frame as a limited-range yuv420p frame (see ``picture.rgb_to_i420``).

    Matches swscale within 1 level of luma and 3 of chroma, at a quarter of its cost.
    """
    return av.VideoFrame.from_ndarray(rgb_to_i420(image, matrix), format="yuv420p")


@functools.lru_cache(maxsize=1)
def nvenc_available() -> bool:
    """True when ``h264_nvenc`` can really open (a CUDA device and driver are present)."""
    if "h264_nvenc" not in av.codecs_available:
        return False
    try:
        ctx = av.CodecContext.create("h264_nvenc", "w")
        ctx.width, ctx.height, ctx.pix_fmt = 256, 256, "yuv420p"
        ctx.time_base = frame_rate_fraction(25.0) ** -1
        ctx.framerate = frame_rate_fraction(25.0)
        ctx.open()
        return True
    except (av.FFmpegError, OSError, ValueError) as exc:
        log.debug("h264_nvenc unusable: %s", exc)
        return False


def choose_codec(codec: str = "auto") -> str:
    if codec == "auto":
        return "h264_nvenc" if nvenc_available() else "libx264"
    if codec not in ("libx264", "h264_nvenc"):
        raise ValueError(f"unsupported video codec {codec!r} (use auto, libx264 or h264_nvenc)")
    return codec


def output_size(width: int, height: int, max_height: int | None = None) -> tuple[int, int]:
    """Even output dimensions: the input size, scaled down to ``max_height`` if taller.

    Odd sizes lose their last pixel row/column (rounded down to even, never upscaled).
    """
    if width < 2 or height < 2:
        raise ValueError(f"frame size {width}x{height} is too small")
    out_w: float = width
    out_h: float = height
    if max_height and height > max_height:
        scale = max_height / height
        out_w, out_h = width * scale, max_height
    w = max(2, int(out_w + 1e-6) // 2 * 2)
    h = max(2, int(out_h + 1e-6) // 2 * 2)
    return w, h


class _AudioFeed:
    """Decodes the speech file and encodes AAC up to a requested time, streaming."""

    def __init__(self, path: str, stream: av.AudioStream, limit_s: float | None) -> None:
        self.path = path
        self.out_stream = stream
        self.rate = stream.codec_context.sample_rate
        self.frame_size = stream.codec_context.frame_size or 1024
        self.limit = None if limit_s is None else int(round(limit_s * self.rate))
        self.container = open_container(path)
        if (
            not self.container.streams.audio
            or self.container.streams.audio[0].codec_context is None
        ):
            self.container.close()
            raise NoAudioStreamError(path, NO_AUDIO_STREAM)
        self.in_stream = self.container.streams.audio[0]
        self.resampler = av.AudioResampler(
            format="fltp", layout=stream.codec_context.layout, rate=self.rate
        )
        self._decoded = self._decode()
        self.pending = np.zeros((self.channels, 0), np.float32)
        self.source_done = False
        self.taken = 0  # samples taken from the source (before padding)
        self.encoded = 0  # samples sent to the encoder

    @property
    def channels(self) -> int:
        return self.out_stream.codec_context.layout.nb_channels

    def _decode(self) -> Generator[np.ndarray, None, None]:
        t = 0.0
        try:
            for packet in self.container.demux(self.in_stream):
                for frame in packet.decode():
                    t = float(frame.time or t)
                    frame.pts = None
                    for out in self.resampler.resample(frame):
                        yield out.to_ndarray()
            for out in self.resampler.resample(None):
                yield out.to_ndarray()
        except av.FFmpegError as exc:
            raise TruncatedMediaError(self.path, TRUNCATED_AT, {"t": f"{t:.1f}"}) from exc

    def _fill(self, need: int) -> None:
        while self.pending.shape[1] < need and not self.source_done:
            if self.limit is not None and self.taken >= self.limit:
                self.source_done = True
                break
            chunk = next(self._decoded, None)
            if chunk is None:
                self.source_done = True
                break
            chunk = chunk.astype(np.float32, copy=False).reshape(self.channels, -1)
            if self.limit is not None:
                chunk = chunk[:, : max(0, self.limit - self.taken)]
            self.taken += chunk.shape[1]
            self.pending = np.concatenate([self.pending, chunk], axis=1)

    def encode_until(
        self, total_samples: int, final: bool = False
    ) -> list[av.Packet[av.AudioStream]]:
        """Encode up to ``total_samples`` samples overall, padding with silence when final."""
        packets: list[av.Packet[av.AudioStream]] = []
        while self.encoded < total_samples:
            n = min(self.frame_size, total_samples - self.encoded)
            if n < self.frame_size and not final:
                break
            self._fill(n)  # short only when the source (or the limit) has ended
            data = self.pending[:, :n]
            self.pending = self.pending[:, n:]
            if data.shape[1] < n:
                data = np.concatenate(
                    [data, np.zeros((self.channels, n - data.shape[1]), np.float32)], axis=1
                )
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data),
                format="fltp",
                layout=self.out_stream.codec_context.layout,
            )
            frame.sample_rate = self.rate
            frame.pts = self.encoded
            frame.time_base = Fraction(1, self.rate)
            self.encoded += n
            packets.extend(self.out_stream.encode(frame))
        if final:
            packets.extend(self.out_stream.encode(None))
        return packets

    def close(self) -> None:
        self._decoded.close()
        self.container.close()


class VideoWriter:
    """Write RGB frames and a speech track to an MP4 (see ARCHITECTURE.md).

    ``width``/``height`` are the size of the frames passed to :meth:`write`; the file is that
    size rounded to even numbers, or scaled down to ``max_height``. ``audio`` is the speech file
    (any format PyAV reads); ``audio_duration_s`` limits how much of it is used. At
    :meth:`close` the audio is fitted to the video's length (``frames / fps``), so the output's
    duration equals the audio's within one frame when the caller writes
    ``round(audio_duration * fps)`` frames. ``x264_params`` (``key=value:...``) refine the
    libx264 ``preset``; the NVENC encoder ignores them. ``subtitles`` become a ``mov_text``
    track (:mod:`lipsync.subtitles`), and with ``burn_subtitles`` are drawn into the frames
    too (``subtitle_font``: a font file, else fontconfig's choice). The sound keeps the
    speech's own sample rate and channels (:func:`speech_audio_format`). ``bitrate`` (bits a
    second) replaces the constant quality ``crf`` by an average bitrate
    (:func:`matched_bitrate`).

    Frames are RGB arrays or I420 arrays (:mod:`lipsync.picture`, ``height*3/2 x width``);
    I420 goes to the encoder as it is. ``matrix`` ("bt709" or "bt601") is the colour matrix
    of I420 frames, used to convert RGB ones, and tagged on the file. ``output_width`` and
    ``output_height`` (default: the frames' size) are the size delivered before
    ``max_height``: a presenter worked on at a capped size is scaled back up to its own.
    """

    def __init__(
        self,
        out: PathLike,
        width: int,
        height: int,
        fps: float,
        audio: PathLike | None = None,
        audio_duration_s: float | None = None,
        crf: int = 20,
        preset: str = "veryfast",
        codec: str = "auto",
        max_height: int | None = None,
        x264_params: str | None = None,
        subtitles: Sequence[Cue] | None = None,
        burn_subtitles: bool = False,
        subtitle_font: str | None = None,
        bitrate: int | None = None,
        matrix: str = "bt709",
        output_width: int | None = None,
        output_height: int | None = None,
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if matrix not in MATRIX_CODES:
            raise ValueError(f"unknown colour matrix {matrix!r}")
        self.out = os.fspath(out)
        self.matrix = matrix
        self.in_width, self.in_height = int(width), int(height)
        self.width, self.height = output_size(
            int(output_width or self.in_width), int(output_height or self.in_height), max_height
        )
        self.fps = float(fps)
        self.codec = choose_codec(codec)
        self.frames_written = 0
        self._closed = False
        out_dir = os.path.dirname(os.path.abspath(self.out))
        os.makedirs(out_dir, exist_ok=True)
        # Not mkstemp: its 0600 mode would stick to the published file.
        self._tmp = os.path.join(
            out_dir, f".{os.path.basename(self.out)}.{uuid.uuid4().hex[:12]}.part.mp4"
        )
        self._audio: _AudioFeed | None = None
        self._soft: SoftSubtitles | None = None
        self._burner = (
            SubtitleBurner(subtitles, self.in_width, self.in_height, subtitle_font)
            if subtitles and burn_subtitles
            else None
        )
        try:
            self._container = av.open(
                self._tmp, "w", format="mp4", options={"movflags": "+faststart"}
            )
            self._video = self._add_video_stream(crf, preset, x264_params, bitrate)
            if audio is not None:
                rate, layout = speech_audio_format(audio)
                astream = self._container.add_stream("aac", rate=rate)
                astream.codec_context.layout = layout
                astream.codec_context.bit_rate = aac_bitrate(rate, av.AudioLayout(layout))
                astream.time_base = Fraction(1, rate)
                self._audio = _AudioFeed(os.fspath(audio), astream, audio_duration_s)
            if subtitles:
                self._soft = SoftSubtitles(self._container, subtitles)
        except BaseException:
            self._discard()
            raise

    def _add_video_stream(
        self, crf: int, preset: str, x264_params: str | None, bitrate: int | None = None
    ) -> av.VideoStream:
        rate = frame_rate_fraction(self.fps)
        # A video codec's name (choose_codec's) gives a VideoStream.
        stream = cast(av.VideoStream, self._container.add_stream(self.codec, rate=rate))
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = rate**-1
        ctx = stream.codec_context
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = MATRIX_CODES[self.matrix]
        ctx.color_range = 1  # limited (TV) range
        if self.codec == "libx264":
            # threads 0: x264 sizes its thread pool from the cores. Frame threads rather than
            # PyAV's default slice threads: encoding returns at once and overlaps the caller's
            # next frame (measured on 2 cores: -5% CPU, -20% wall per 720p render).
            ctx.thread_type = "FRAME"
            options: dict[str, object] = {"crf": str(int(crf)), "preset": preset, "threads": "0"}
            if bitrate:
                options = {**_bitrate_options(bitrate), "preset": preset, "threads": "0"}
            if x264_params:
                options["x264-params"] = x264_params
            stream.options = options
        else:
            stream.options = {
                "preset": _NVENC_PRESETS.get(preset, "p4"),
                "tune": "hq",
                "rc": "vbr",
                **(_bitrate_options(bitrate) if bitrate else {"cq": str(int(crf)), "b": "0"}),
            }
        return stream

    @property
    def duration_s(self) -> float:
        return self.frames_written / self.fps

    def write(self, image: np.ndarray) -> None:
        """Append one frame: RGB (``height x width x 3``) or I420 (``height*3/2 x width``)
        uint8, the size given at creation."""
        if self._closed:
            raise RuntimeError("writer is closed")
        i420 = image.ndim == 2
        if image.dtype != np.uint8 or (
            i420_size(image) != (self.in_width, self.in_height)
            if i420
            else image.shape != (self.in_height, self.in_width, 3)
        ):
            raise ValueError(
                f"expected a {self.in_height}x{self.in_width}x3 uint8 image (or its I420), got "
                f"{image.shape} {image.dtype}"
            )
        if self._burner is not None:
            rgb = i420_to_rgb(image, self.matrix) if i420 else image
            image, i420 = self._burner.apply(rgb, self.frames_written / self.fps), False
        if not i420:
            # An odd size loses its last column or row (see lipsync.picture).
            image = rgb_to_i420(
                image[: self.in_height // 2 * 2, : self.in_width // 2 * 2], self.matrix
            )
        frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
        if (frame.width, frame.height) != (self.width, self.height):
            frame = frame.reformat(width=self.width, height=self.height, interpolation="BILINEAR")
        frame.pts = self.frames_written
        self.frames_written += 1
        self._container.mux(self._video.encode(frame))
        if self._audio is not None:
            until = int(self.frames_written * self._audio.rate / self.fps)
            self._container.mux(self._audio.encode_until(until))

    def close(self) -> str:
        """Finish the file and move it to ``out``; returns ``out``."""
        if self._closed:
            return self.out
        if self.frames_written == 0:
            self.abort()
            raise ValueError(f"{os.path.basename(self.out)}: no frames were written")
        try:
            self._container.mux(self._video.encode(None))
            if self._audio is not None:
                total = int(round(self.frames_written * self._audio.rate / self.fps))
                self._container.mux(self._audio.encode_until(total, final=True))
                self._audio.close()
                self._audio = None
            if self._soft is not None:
                self._soft.mux(self.duration_s)
            self._container.close()
            self._closed = True
            os.replace(self._tmp, self.out)
        except BaseException:
            self.abort()
            raise
        return self.out

    def abort(self) -> None:
        """Stop and remove everything written so far; ``out`` is left untouched."""
        self._closed = True
        self._discard()

    def _discard(self) -> None:
        if self._audio is not None:
            self._audio.close()
            self._audio = None
        container = getattr(self, "_container", None)
        if container is not None:
            try:
                container.close()
            except av.FFmpegError as exc:
                log.debug("closing an aborted output failed: %s", exc)
            del self._container  # a second call finds none (getattr above)
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _bitrate_options(bitrate: int) -> dict[str, object]:
    """Average ``bitrate`` with peaks of at most 1.5x over a 2-second buffer: the file ends
    up near the target, while a sudden movement still gets the bits it needs."""
    b = int(bitrate)
    return {"b": str(b), "maxrate": str(b * 3 // 2), "bufsize": str(b * 2)}


def matched_bitrate(
    source_bitrate: int, source_size: tuple[int, int], out_size: tuple[int, int]
) -> int | None:
    """The video bitrate that keeps a source's quality: its own, scaled by the output's share
    of its pixels when the output is smaller (a size cap). None when the source's is unknown
    (a still photo), so the caller keeps its quality setting."""
    if source_bitrate <= 0:
        return None
    share = min(1.0, (out_size[0] * out_size[1]) / max(1, source_size[0] * source_size[1]))
    return max(1, int(source_bitrate * share))


def speech_audio_format(path: PathLike) -> tuple[int, str]:
    """The output's AAC sample rate and channel layout for the speech file ``path``: its own.

    The speech is not resampled or remixed when AAC can carry it as it is. A rate AAC does
    not define becomes the next higher one it does (no detail is lost; 96 kHz at most); a
    layout without a name gets the usual one for its channel count; more than 8 channels
    (beyond AAC's 7.1) are mixed down to stereo.
    """
    container = open_container(path)
    try:
        if not container.streams.audio or container.streams.audio[0].codec_context is None:
            raise NoAudioStreamError(path, NO_AUDIO_STREAM)
        ctx = container.streams.audio[0].codec_context
        rate, channels, name = ctx.sample_rate or 0, ctx.channels or 1, ctx.layout.name
    finally:
        container.close()
    out_rate = next((r for r in AAC_RATES if r >= rate), AAC_RATES[-1])
    if channels > 8:
        return out_rate, "stereo"
    return out_rate, name if name in AAC_NAMED_LAYOUTS else AAC_LAYOUTS[channels]


def aac_bitrate(rate: int, layout: av.AudioLayout) -> int:
    """:data:`AUDIO_BITRATE` for mono and stereo, 64 kbit/s a channel beyond; at low sample
    rates at most 3 bits a sample and channel (the encoder's ceiling is 6: asking more only
    makes it clamp and warn)."""
    channels = layout.nb_channels
    wanted = AUDIO_BITRATE if channels <= 2 else 64_000 * channels
    return int(min(wanted, 3 * rate * channels))
