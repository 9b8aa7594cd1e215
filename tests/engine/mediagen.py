"""Generate test media: presenter clips, speech, audio in every format, stills, broken files.

Shared by every engine and platform test. Everything is made with PyAV (no ffmpeg binary), a
face from ``skimage.data.astronaut()`` and speech from ``espeak-ng`` when it is installed
(a numpy vowel synthesiser otherwise).

Each video frame carries its source frame number as an 8-bit code (a row of black/white blocks
across the top, see :func:`read_marker`), so tests can tell which source frame a decoder or an
engine delivered, and in which orientation.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

MARKER_BITS = 8
#: Video codec and audio codec used for each container.
CONTAINER_CODECS = {
    "mp4": ("libx264", "aac"),
    "mov": ("libx264", "aac"),
    "mkv": ("libx264", "aac"),
    "avi": ("mpeg4", "libmp3lame"),
    "webm": ("libvpx", "libopus"),
}
#: (container format, audio codec, sample rate) for each audio file kind.
AUDIO_FORMATS = {
    "wav": ("wav", "pcm_s16le", None),
    "mp3": ("mp3", "libmp3lame", None),
    "m4a": ("ipod", "aac", None),
    "flac": ("flac", "flac", None),
    "ogg": ("ogg", "libopus", 48000),
    "opus": ("opus", "libopus", 48000),
}
_FORMAT_NAMES = {"mp4": "mp4", "mov": "mov", "mkv": "matroska", "avi": "avi", "webm": "webm"}


@dataclass(frozen=True)
class GeneratedVideo:
    path: Path
    fps: float  # nominal rate (the average for VFR clips)
    width: int  # display size (after rotation)
    height: int
    n_frames: int
    frame_times: tuple[float, ...]  # presentation time of every stored frame
    rotation: int = 0
    has_audio: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.frame_times[-1] + (1.0 / self.fps if self.fps else 0.0)


# ----------------------------------------------------------------------------- pictures


@functools.lru_cache(maxsize=8)
def face_image(size: int = 256) -> np.ndarray:
    """The astronaut portrait (a real face) cropped to the head and resized, RGB uint8.

    Cached: treat the result as read-only (copy before drawing on it).
    """
    from skimage import data
    from skimage.transform import resize

    img = data.astronaut()[0:300, 100:400]  # head and shoulders
    out = resize(img, (size, size), anti_aliasing=True, preserve_range=True)
    return out.astype(np.uint8)


def draw_marker(image: np.ndarray, value: int) -> None:
    """Write ``value`` (0..255) as 8 black/white blocks across the top rows, in place."""
    h, w = image.shape[:2]
    bh = max(8, h // 16)
    bw = w // MARKER_BITS
    for b in range(MARKER_BITS):
        on = (value >> (MARKER_BITS - 1 - b)) & 1
        image[:bh, b * bw : (b + 1) * bw] = 255 if on else 0
    image[bh : bh + 2, :] = 128  # a grey rule below, so a missing code is visible


def read_marker(image: np.ndarray) -> int:
    """Read back what :func:`draw_marker` wrote (tolerates compression noise)."""
    h, w = image.shape[:2]
    bh = max(8, h // 16)
    bw = w // MARKER_BITS
    value = 0
    for b in range(MARKER_BITS):
        block = image[bh // 4 : bh * 3 // 4, b * bw + bw // 4 : (b + 1) * bw - bw // 4]
        value = (value << 1) | int(block.mean() > 127)
    return value


def presenter_frame(
    index: int, width: int, height: int, face: bool = True, tint: int = 0
) -> np.ndarray:
    """An upright frame: face centred on a soft background, slight sway, marker on top.

    ``tint`` (0..100) shifts the background's blue, to tell generated presenters apart.
    """
    yy, xx = np.mgrid[0:height, 0:width]
    bg = np.stack(
        [
            60 + 60 * xx / max(width - 1, 1),
            80 + 40 * yy / max(height - 1, 1),
            np.full_like(xx, 140.0 + tint, dtype=float),
        ],
        axis=-1,
    ).astype(np.uint8)
    if face:
        side = int(min(width, height) * 0.6) // 2 * 2
        f = face_image(side)
        dx = int(round(2 * math.sin(index * 0.3)))
        x0 = (width - side) // 2 + dx
        y0 = (height - side) // 2 + max(8, height // 16)
        y0 = min(y0, height - side)
        bg[y0 : y0 + side, x0 : x0 + side] = f
    else:
        bg[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] = (index * 37) % 256
    draw_marker(bg, index % 256)
    return bg


# ----------------------------------------------------------------------------- video


def make_video(
    path: os.PathLike | str,
    seconds: float = 2.0,
    fps: float = 25.0,
    size: tuple[int, int] = (320, 240),
    container: str | None = None,
    codec: str | None = None,
    rotation: int = 0,
    vfr: bool = False,
    face: bool = True,
    audio: np.ndarray | None = None,
    audio_sr: int = 16000,
    frame_times: Sequence[float] | None = None,
    faststart: bool = True,
    seed: int = 0,
) -> GeneratedVideo:
    """Encode a presenter clip.

    ``size`` is the *display* size (width, height). With ``rotation`` (counter-clockwise
    degrees, as :attr:`av.VideoFrame.rotation` reports) the frames are stored turned the other
    way and the display matrix says how to turn them back, as phones do. ``vfr`` gives
    irregular frame intervals (0.5, 1 or 1.5 frame periods, 1 on average) on a 1/90000 time
    base; explicit ``frame_times`` override both. ``audio`` (float mono at ``audio_sr``)
    adds a sound track. ``seed`` picks the VFR pattern and the background tint, so clips made
    with different seeds look different.
    """
    path = Path(path)
    container = container or path.suffix.lstrip(".").lower()
    if container not in CONTAINER_CODECS:
        raise ValueError(f"make_video writes {', '.join(CONTAINER_CODECS)}, not {container!r}")
    vcodec, acodec = CONTAINER_CODECS[container]
    vcodec = codec or vcodec
    width, height = size
    if frame_times is None:
        if vfr:
            rng = np.random.default_rng(seed)
            steps = rng.choice([0.5, 1.0, 1.5], size=int(seconds * fps) * 2) / fps
            times = np.concatenate([[0.0], np.cumsum(steps)])
            frame_times = [float(t) for t in times if t < seconds - 0.5 / fps]
        else:
            frame_times = [i / fps for i in range(int(round(seconds * fps)))]
    frame_times = list(frame_times)
    irregular = vfr or len(set(np.round(np.diff(frame_times), 6))) > 1
    k = (rotation // 90) % 4
    stored_w, stored_h = (height, width) if k % 2 else (width, height)

    out = av.open(
        str(path),
        "w",
        format=_FORMAT_NAMES[container],
        options={"movflags": "+faststart"} if faststart and container in ("mp4", "mov") else {},
    )
    rate = Fraction(fps).limit_denominator(1001)
    vs = out.add_stream(vcodec, rate=rate)
    vs.width, vs.height = stored_w, stored_h
    vs.pix_fmt = "yuv420p"
    tb = Fraction(1, 90000) if irregular else rate**-1
    if container != "avi":
        vs.time_base = tb
        vs.codec_context.time_base = tb
    if vcodec == "libx264":
        vs.options = {"preset": "ultrafast", "crf": "18"}
    elif vcodec == "libvpx":
        vs.options = {"deadline": "realtime", "cpu-used": "8", "crf": "10", "b": "2M"}
    elif vcodec == "mpeg4":
        vs.bit_rate = 4_000_000
    if rotation:
        vs.set_display_rotation(rotation)
    ast = None
    if audio is not None:
        ast = out.add_stream(acodec, rate=48000 if acodec == "libopus" else audio_sr)
        ast.codec_context.layout = "mono"
    for i, t in enumerate(frame_times):
        img = presenter_frame(i, width, height, face=face, tint=(seed * 47) % 100)
        if k:
            img = np.ascontiguousarray(np.rot90(img, k=-k))
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        if container == "avi":
            frame.pts = i
        else:
            frame.pts = int(round(t / float(tb)))
            frame.time_base = tb
        out.mux(vs.encode(frame))
    out.mux(vs.encode(None))
    if ast is not None:
        _encode_audio(out, ast, audio, audio_sr)
    out.close()
    return GeneratedVideo(
        path,
        fps,
        width,
        height,
        len(frame_times),
        tuple(frame_times),
        rotation=rotation % 360,
        has_audio=audio is not None,
    )


def _encode_audio(container, stream, signal: np.ndarray, sr: int) -> None:
    data = np.clip(np.asarray(signal, np.float32), -1, 1)[None, :]
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format="fltp", layout="mono")
    frame.sample_rate = sr
    frame.pts = None
    rate = stream.codec_context.sample_rate
    fmt = stream.codec_context.format.name if stream.codec_context.format else "fltp"
    resampler = av.AudioResampler(
        format=fmt, layout="mono", rate=rate, frame_size=stream.codec_context.frame_size or None
    )
    done = 0
    for chunk in resampler.resample(frame) + resampler.resample(None):
        chunk.pts = done  # explicit times let the muxer mark the encoder's priming
        chunk.time_base = Fraction(1, rate)
        done += chunk.samples
        container.mux(stream.encode(chunk))
    container.mux(stream.encode(None))


# ----------------------------------------------------------------------------- audio


def synth_speech(seconds: float = 3.0, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Speech-like float32 signal: voiced syllables (vowel formants) separated by pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f0 = 120 + 15 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    source = sum(np.sin(h * phase) / h for h in range(1, 30))
    vowels = [(730, 1090), (270, 2290), (300, 870), (530, 1840), (570, 840)]
    out = np.zeros(n)
    syl = int(0.22 * sr)
    pos = int(0.15 * sr)
    from scipy.signal import lfilter

    while pos + syl < n:
        f1, f2 = vowels[rng.integers(len(vowels))]
        seg = source[pos : pos + syl]
        for fc, bw in ((f1, 80), (f2, 120)):
            r = math.exp(-math.pi * bw / sr)
            a = [1, -2 * r * math.cos(2 * math.pi * fc / sr), r * r]
            seg = lfilter([1 - r], a, seg)
        env = np.sin(np.linspace(0, np.pi, syl)) ** 0.7
        out[pos : pos + syl] += seg * env
        pos += syl + (int(0.35 * sr) if rng.random() < 0.25 else int(0.04 * sr))
    out /= max(np.abs(out).max(), 1e-9)
    return (0.6 * out).astype(np.float32)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def make_speech_wav(
    path: os.PathLike | str,
    text: str = "Hello, welcome to our studio. Today we show you how one "
    "recorded voice becomes many talking presenters.",
    sr: int = 16000,
    voice: str = "en",
    speed: int = 160,
    seconds: float | None = None,
) -> Path:
    """Spoken ``text`` as a mono 16-bit WAV at ``sr`` (espeak-ng, or synthetic speech).

    ``seconds`` trims or pads the result to that length.
    """
    path = Path(path)
    signal = None
    if espeak_available():
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text],
                check=True,
                capture_output=True,
                timeout=60,
            )
            signal = decode_audio(raw, sr)
    if signal is None:
        words = max(1, len(text.split()))
        signal = synth_speech(seconds or 0.35 * words + 0.5, sr)
    if seconds is not None:
        n = int(round(seconds * sr))
        signal = np.pad(signal[:n], (0, max(0, n - len(signal))))
    write_wav(path, signal, sr)
    return path


def write_wav(path: os.PathLike | str, signal: np.ndarray, sr: int = 16000) -> Path:
    return make_audio(path, "wav", signal=signal, sr=sr)


def make_audio(
    path: os.PathLike | str,
    fmt: str | None = None,
    signal: np.ndarray | None = None,
    sr: int = 16000,
    seconds: float = 2.0,
) -> Path:
    """Encode a mono float signal (default: synthetic speech) as wav/mp3/m4a/flac/ogg/opus."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    container_fmt, codec, rate = AUDIO_FORMATS[fmt]
    if signal is None:
        signal = synth_speech(seconds, sr)
    out = av.open(str(path), "w", format=container_fmt)
    stream = out.add_stream(codec, rate=rate or sr)
    stream.codec_context.layout = "mono"
    _encode_audio(out, stream, signal, sr)
    out.close()
    return path


def decode_audio(path: os.PathLike | str, sr: int = 16000) -> np.ndarray:
    """Independent reference decoder for tests: any file's first audio stream, mono float."""
    with av.open(str(path)) as c:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        chunks = []
        for frame in c.decode(audio=0):
            frame.pts = None
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


# ----------------------------------------------------------------------------- stills, damage


def make_image(
    path: os.PathLike | str, fmt: str | None = None, size: tuple[int, int] = (320, 400)
) -> Path:
    """A still presenter photo (jpg/png/webp) with the marker for frame 0."""
    from PIL import Image

    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    img = presenter_frame(0, size[0], size[1])
    Image.fromarray(img).save(
        path, format={"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt], quality=92
    )
    return path


def truncate(src: os.PathLike | str, dst: os.PathLike | str, fraction: float = 0.5) -> Path:
    """Copy the first ``fraction`` of ``src``'s bytes to ``dst`` (a cut-off download)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return Path(dst)


def make_unknown_codec_avi(path: os.PathLike | str, fourcc: bytes = b"xyz ") -> Path:
    """An AVI whose video four-character code no decoder knows."""
    path = Path(path)
    make_video(path, seconds=0.4, size=(64, 48), face=False)
    data = path.read_bytes().replace(b"FMP4", fourcc[:4].ljust(4))
    path.write_bytes(data)
    return path


def make_text_file(path: os.PathLike | str) -> Path:
    path = Path(path)
    path.write_text("Meeting notes\n- record the voice track\n- pick presenters\n" * 20)
    return path
