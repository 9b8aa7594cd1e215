"""What a media file holds, judged by its content (never by its extension).

:func:`probe` opens the file with PyAV (FFmpeg's own content sniffing), lists the streams and,
for video, decodes the first frame: that both proves the codec is readable and gives the
rotation, which FFmpeg 7 exposes only as display-matrix side data on decoded frames.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.container import InputContainer
from av.stream import Stream

from ..errors import TruncatedMediaError, UnsupportedMediaError, reason, what_to_do

PathLike = str | os.PathLike[str]

# The fixed reasons of input errors (``InputError.template``; parameters in ``params``). A user
# interface may translate them (the studio lists them in ``studio/engine_reasons.py``).
NO_FILE = reason("file does not exist", what_to_do("check the name, or upload the file again"))
IS_DIRECTORY = reason(
    "is a directory, not a media file", what_to_do("choose a video, photo or audio file in it")
)
EMPTY_FILE = reason(
    "file is empty", what_to_do("upload the file again: the copy received is empty")
)
DAMAGED_INDEX = reason("file is truncated or damaged (its index cannot be read)")
NOT_MEDIA = reason("not a media file (could not read a video, audio or image stream)")
UNSUPPORTED_VIDEO_CODEC = reason("unsupported video codec '%(codec)s'")
UNSUPPORTED_AUDIO_CODEC = reason("unsupported audio codec '%(codec)s'")
TRUNCATED_AT_START = reason("file is truncated at 0.0 s")
NO_FIRST_FRAME = reason("file is truncated at 0.0 s (no video frame could be decoded)")
#: ``t``: where the file breaks off, in seconds with one decimal (e.g. "12.3").
TRUNCATED_AT = reason("file is truncated at %(t)s s")
NO_AUDIO_STREAM = reason("no audio stream")

#: FFmpeg demuxers that read a single still image.
IMAGE_FORMATS = frozenset(
    {
        "image2",
        "png_pipe",
        "jpeg_pipe",
        "webp_pipe",
        "bmp_pipe",
        "tiff_pipe",
        "gif",
        "gif_pipe",
        "jpegxl_pipe",
        "qoi_pipe",
    }
)
#: Raw elementary-stream formats whose declared duration is only an estimate from bitrate.
ESTIMATED_DURATION_FORMATS = frozenset(
    {"mp3", "aac", "ac3", "eac3", "h264", "hevc", "m4v", "mpegvideo"}
)
_WEBM_CODECS = frozenset({"vp8", "vp9", "av1", "opus", "vorbis"})
#: Demuxers of real audio/video files. FFmpeg also "reads" text as ANSI art (tty) and many
#: other pseudo formats; anything outside this list is reported as not a media file.
MEDIA_FORMATS = (
    frozenset(
        {
            "mov",
            "mp4",
            "m4a",
            "3gp",
            "matroska",
            "webm",
            "avi",
            "mpegts",
            "mpeg",
            "flv",
            "asf",
            "ogg",
            "wav",
            "w64",
            "mp3",
            "aac",
            "flac",
            "aiff",
            "caf",
            "au",
            "amr",
            "ac3",
            "eac3",
            "wv",
            "ape",
            "mxf",
            "dv",
            "m4v",
            "h264",
            "hevc",
            "mpegvideo",
            "ivf",
            "rm",
            "nut",
            "opus",
            "voc",
            "dts",
            "truehd",
            "tak",
            "mlp",
            "sox",
            "rawvideo",
        }
    )
    | IMAGE_FORMATS
)


@dataclass(frozen=True)
class StreamInfo:
    index: int
    kind: str  # "video", "audio", "subtitle", "data", ...
    codec: str
    duration_s: float | None
    width: int = 0  # video: as coded, before rotation
    height: int = 0
    fps: float | None = None  # video: average frame rate
    sample_rate: int = 0  # audio
    channels: int = 0


@dataclass(frozen=True)
class MediaInfo:
    """The facts callers need about one media file.

    ``width``/``height`` are the display size (after rotation), ``coded_width``/``coded_height``
    the size the frames are stored at. ``rotation`` is the counter-clockwise angle (0, 90, 180
    or 270) the stored frames are turned by to display them. ``duration_s`` is the container's
    declared duration (for a still image, 0). ``vfr`` is true when frame times are irregular.
    """

    path: str
    container: str
    format_name: str
    duration_s: float
    streams: tuple[StreamInfo, ...] = field(default_factory=tuple)
    has_video: bool = False
    has_audio: bool = False
    is_image: bool = False
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int = 0
    height: int = 0
    coded_width: int = 0
    coded_height: int = 0
    rotation: int = 0
    fps: float | None = None
    vfr: bool = False
    video_frames: int = 0  # declared frame count of the video stream (0 if unknown)
    video_bitrate: int = 0  # bits a second of the video stream (0 if unknown or a still)
    sample_rate: int = 0
    channels: int = 0

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def open_container(path: PathLike) -> InputContainer:
    """Open ``path`` for reading or raise the typed error that says why it cannot be read."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise UnsupportedMediaError(path, NO_FILE)
    if os.path.isdir(path):
        raise UnsupportedMediaError(path, IS_DIRECTORY)
    if os.path.getsize(path) == 0:
        raise UnsupportedMediaError(path, EMPTY_FILE)
    try:
        return av.open(path, "r")
    except av.FFmpegError as exc:
        if _looks_like_iso_media(path):
            raise TruncatedMediaError(path, DAMAGED_INDEX) from exc
        raise UnsupportedMediaError(path, NOT_MEDIA) from exc


def probe(path: PathLike) -> MediaInfo:
    """Describe ``path``; raise :class:`UnsupportedMediaError` when nothing usable is in it."""
    path = os.fspath(path)
    container = open_container(path)
    try:
        return _probe_open(path, container)
    finally:
        container.close()


def _probe_open(path: str, container: InputContainer) -> MediaInfo:
    format_name = container.format.name
    if not (set(format_name.split(",")) & MEDIA_FORMATS or format_name.endswith("_pipe")):
        raise UnsupportedMediaError(path, NOT_MEDIA)
    streams: list[StreamInfo] = []
    video: av.VideoStream | None = None
    audio: av.AudioStream | None = None
    for s in container.streams:
        # PyAV wraps exactly the streams of type "video" ("audio") as VideoStream (AudioStream).
        ctx = s.codec_context
        codec = _codec_name(ctx)
        info = StreamInfo(index=s.index, kind=s.type, codec=codec, duration_s=_stream_duration(s))
        if isinstance(s, av.VideoStream) and ctx is not None:
            vctx = s.codec_context
            info = StreamInfo(
                index=s.index,
                kind="video",
                codec=codec,
                duration_s=info.duration_s,
                width=vctx.width,
                height=vctx.height,
                fps=_as_float(s.average_rate or s.guessed_rate),
            )
        elif isinstance(s, av.AudioStream) and ctx is not None:
            actx = s.codec_context
            info = StreamInfo(
                index=s.index,
                kind="audio",
                codec=codec,
                duration_s=info.duration_s,
                sample_rate=actx.sample_rate or 0,
                channels=actx.channels or 0,
            )
        streams.append(info)
        if isinstance(s, av.VideoStream) and video is None and not _is_attached_picture(s):
            video = s
        elif isinstance(s, av.AudioStream) and audio is None:
            audio = s

    if video is not None and video.codec_context is None:
        # An audio file with an undecodable cover picture is still a good audio file.
        if audio is None or audio.codec_context is None:
            tag = _codec_tag(path, video.index)
            raise UnsupportedMediaError(path, UNSUPPORTED_VIDEO_CODEC, {"codec": tag})
        video = None
    if audio is not None and audio.codec_context is None:
        if video is None:
            raise UnsupportedMediaError(
                path, UNSUPPORTED_AUDIO_CODEC, {"codec": _codec_tag(path, audio.index)}
            )
        audio = None
    if video is None and audio is None:
        raise UnsupportedMediaError(path, NOT_MEDIA)

    is_image = video is not None and (format_name in IMAGE_FORMATS or format_name.endswith("_pipe"))
    duration = _container_duration(container, video, audio)
    kw: dict[str, Any] = {}  # MediaInfo's fields
    if video is not None:
        first = _first_frame(path, container, video)
        rotation = _rotation(first, video)
        ctx = video.codec_context
        cw, ch = first.width, first.height
        w, h = (ch, cw) if rotation in (90, 270) else (cw, ch)
        fps = None if is_image else _as_float(video.average_rate or video.guessed_rate)
        kw.update(
            has_video=True,
            video_codec=_codec_name(ctx),
            width=w,
            height=h,
            coded_width=cw,
            coded_height=ch,
            rotation=rotation,
            fps=fps,
            video_frames=1 if is_image else int(video.frames or 0),
            vfr=False if is_image else _is_vfr(container, video),
            video_bitrate=0 if is_image else _video_bitrate(container, video, audio),
        )
    if audio is not None:
        actx = audio.codec_context
        kw.update(
            has_audio=True,
            audio_codec=_codec_name(actx),
            sample_rate=actx.sample_rate or 0,
            channels=actx.channels or 0,
        )
    return MediaInfo(
        path=path,
        container=_container_name(format_name, container, streams, is_image),
        format_name=format_name,
        duration_s=0.0 if is_image else duration,
        streams=tuple(streams),
        is_image=is_image,
        **kw,
    )


def _video_bitrate(
    container: InputContainer, video: av.VideoStream, audio: av.AudioStream | None
) -> int:
    """The video stream's declared bitrate, else the container's less the audio's."""
    declared = int(video.codec_context.bit_rate or 0)
    if declared > 0:
        return declared
    total = int(container.bit_rate or 0)
    sound = int(audio.codec_context.bit_rate or 0) if audio is not None else 0
    return max(0, total - sound)


def _as_float(rate: Fraction | None) -> float | None:
    return float(rate) if rate else None


def _stream_duration(stream: Stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:  # Matroska keeps per-stream durations as "HH:MM:SS.nnnnnnnnn" tags
        try:
            h, m, sec = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec)
        except ValueError:
            return None
    return None


def _container_duration(
    container: InputContainer, video: Stream | None, audio: Stream | None
) -> float:
    """Declared duration: the longest of the chosen streams, else the container's."""
    candidates = [
        d for d in (_stream_duration(s) for s in (video, audio) if s is not None) if d is not None
    ]
    if candidates:
        return max(candidates)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def declared_duration(info: MediaInfo, kind: str) -> float | None:
    """The declared duration of the first stream of ``kind``, or None when it is not known.

    The container's duration stands in only when no other audio/video stream could make it
    longer; bitrate-based estimates (raw MP3/AAC/H.264) never count.
    """
    if info.format_name in ESTIMATED_DURATION_FORMATS:
        return None
    if info.format_name in ("wav", "avi"):
        riff = riff_declared_duration(info.path, kind)
        if riff is not None:
            return riff
    media = [s for s in info.streams if s.kind in ("video", "audio") and s.codec != "none"]
    for s in media:
        if s.kind == kind:
            if s.duration_s is not None:
                return s.duration_s
            return info.duration_s or None if len(media) == 1 else None
    return None


def _is_attached_picture(stream: Stream) -> bool:
    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except AttributeError:
        return False


def _first_frame(path: str, container: InputContainer, stream: av.VideoStream) -> av.VideoFrame:
    stream.thread_type = "AUTO"
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                return frame
    except av.FFmpegError as exc:
        raise TruncatedMediaError(path, TRUNCATED_AT_START) from exc
    raise TruncatedMediaError(path, NO_FIRST_FRAME)


def _rotation(frame: av.VideoFrame, stream: Stream) -> int:
    """Counter-clockwise display rotation snapped to a multiple of 90 degrees."""
    deg = frame.rotation
    if not deg:
        tag = stream.metadata.get("rotate")
        if tag:
            try:
                deg = -int(float(tag))  # the old tag is clockwise
            except ValueError:
                deg = 0
    return int(round(deg / 90.0)) * 90 % 360


def _is_vfr(container: InputContainer, stream: Stream, sample: int = 240) -> bool:
    """True when frame intervals vary: over 5% of the first ``sample`` differ from the median.

    Reads packets only (no decoding); packet order is decode order, so the presentation
    times are sorted first. A lone gap (one dropped frame) does not make a clip variable-rate.
    """
    if stream.average_rate and stream.base_rate:
        # FFmpeg's r_frame_rate (base_rate) differs from the average rate on most VFR input.
        avg, base = float(stream.average_rate), float(stream.base_rate)
        if abs(base - avg) > 0.05 * avg:
            return True
    try:
        container.seek(0, stream=stream)
    except av.FFmpegError:
        return False
    pts: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is not None:
                pts.append(packet.pts)
            if len(pts) >= sample:
                break
    except av.FFmpegError:
        pass  # a damaged tail is reported by the decoder, not by probing the rate
    if len(pts) < 4:
        return False
    pts.sort()
    steps = np.diff(np.asarray(pts, dtype=np.float64))
    steps = steps[steps > 0]
    if steps.size < 3:
        return False
    median = float(np.median(steps))
    irregular = np.abs(steps - median) > 0.1 * median + 1
    return bool(irregular.mean() > 0.05)


def _container_name(
    format_name: str, container: InputContainer, streams: list[StreamInfo], is_image: bool
) -> str:
    if is_image:
        return {"png_pipe": "png", "jpeg_pipe": "jpeg", "webp_pipe": "webp"}.get(
            format_name, _first_codec(streams) if format_name == "image2" else format_name
        )
    if format_name.startswith("mov,"):
        brand = container.metadata.get("major_brand", "").strip().lower()
        if brand.startswith("qt"):
            return "mov"
        if brand.startswith("m4a"):
            return "m4a"
        return "mp4"
    if format_name.startswith("matroska"):
        codecs = {s.codec for s in streams if s.kind in ("video", "audio")}
        return "webm" if codecs and codecs <= _WEBM_CODECS else "matroska"
    return format_name.split(",")[0]


def _first_codec(streams: Iterable[StreamInfo]) -> str:
    for s in streams:
        if s.kind == "video":
            return {"mjpeg": "jpeg"}.get(s.codec, s.codec)
    return "image"


def _looks_like_iso_media(path: str) -> bool:
    """An MP4/MOV header whose index FFmpeg could not read: typically a cut-off download."""
    with open(path, "rb") as f:
        head = f.read(12)
    return len(head) == 12 and head[4:8] in (b"ftyp", b"mdat", b"moov", b"wide", b"free")


def _codec_tag(path: str, stream_index: int) -> str:
    """The four-character code of a stream FFmpeg has no decoder for, read from the header.

    Covers AVI (``strf`` BITMAPINFOHEADER/WAVEFORMATEX) and MP4/MOV (``stsd`` sample entry);
    other containers give ``"unknown"``.
    """
    with open(path, "rb") as f:
        data = f.read(4 << 20)
    tags: list[str] = []
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        pos = 0
        while (pos := data.find(b"strh", pos)) != -1 and len(tags) <= stream_index:
            fcc_type, handler = data[pos + 8 : pos + 12], data[pos + 12 : pos + 16]
            strf = data.find(b"strf", pos)
            if fcc_type == b"vids" and strf != -1:
                handler = data[strf + 24 : strf + 28] or handler
            tags.append(_printable(handler))
            pos += 4
    elif _looks_like_iso_media(path):
        pos = 0
        while (pos := data.find(b"stsd", pos)) != -1:
            tags.append(_printable(data[pos + 16 : pos + 20]))
            pos += 4
    if stream_index < len(tags) and tags[stream_index]:
        return tags[stream_index]
    return "unknown"


def _printable(raw: bytes) -> str:
    text = raw.decode("latin-1").strip().strip("\x00")
    return text if text.isprintable() else raw.hex()


def frame_rate_fraction(fps: float) -> Fraction:
    """A frame rate as a small fraction (29.97 -> 30000/1001)."""
    return Fraction(fps).limit_denominator(1001)


def _codec_name(ctx: av.CodecContext | None) -> str:
    """The codec's canonical name ("mp3", not the decoder's "mp3float")."""
    if ctx is None:
        return "none"
    codec = ctx.codec
    return getattr(codec, "canonical_name", None) or codec.name


def riff_declared_duration(path: str, kind: str) -> float | None:
    """Duration a WAV or AVI header declares (FFmpeg quietly clamps it to the file size).

    WAV: ``data`` chunk size / byte rate; AVI: ``avih`` frame count x frame period. None when
    the header is missing or says "unknown" (0 or 0xFFFFFFFF, as streaming writers leave it).
    """
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head[:4] != b"RIFF":
        return None
    if head[8:12] == b"WAVE" and kind == "audio":
        fmt, data = head.find(b"fmt "), head.find(b"data")
        if fmt < 0 or data < 0:
            return None
        byte_rate = int.from_bytes(head[fmt + 16 : fmt + 20], "little")
        size = int.from_bytes(head[data + 4 : data + 8], "little")
        if byte_rate <= 0 or size in (0, 0xFFFFFFFF):
            return None
        return size / byte_rate
    if head[8:12] == b"AVI " and kind == "video":
        avih = head.find(b"avih")
        if avih < 0:
            return None
        usec = int.from_bytes(head[avih + 8 : avih + 12], "little")
        frames = int.from_bytes(head[avih + 24 : avih + 28], "little")
        if usec <= 0 or frames in (0, 0xFFFFFFFF):
            return None
        return usec * frames / 1e6
    return None
