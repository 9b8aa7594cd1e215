"""Audio checks shown in the audio library: waveform picture and warnings.

The file is decoded at its own sample rate with every channel (resampling first would move
peaks and hide clipping). Measurements, on 20 ms frames of the mono mix:

* clipping: share of samples (any channel) with |x| >= 0.999; warned above 0.1 %.
* long silence: the longest run of frames quieter than max(-50 dBFS, loud level - 40 dB);
  warned above 3 s.
* music-like input, a *heuristic* after Scheirer & Slaney (1997): speech pauses between
  syllables and words, so many 20 ms frames sit well below the local average energy and
  the spectrum changes abruptly; sustained music keeps its energy. Warned when the file is at
  least 5 s long, under 12 % of the frames are "low energy" (below half the mean power of
  their surrounding second) and almost none (< 3 %) are near-silent. It can be wrong both
  ways, which is why it is a warning and never a refusal.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from django.utils.translation import gettext_noop
from PIL import Image, ImageDraw

from lipsync.errors import NoAudioStreamError, TruncatedMediaError, UnsupportedMediaError

from ..notices import Notice, notice

FRAME_S = 0.02
CLIP_LEVEL = 0.999
CLIP_SHARE_WARN = 0.001
LONG_SILENCE_S = 3.0
MUSIC_MIN_DURATION_S = 5.0
MUSIC_LOW_ENERGY_MAX = 0.12
MUSIC_SILENT_MAX = 0.03
WAVE_W, WAVE_H = 800, 120


@dataclass
class AudioAnalysis:
    duration_s: float
    stats: dict
    warnings: list[Notice] = field(default_factory=list)
    waveform_png: bytes = b""


def decode(path: str, display_name: str) -> tuple[np.ndarray, int]:
    """All samples as float32 (channels, n) at the file's own rate."""
    try:
        container = av.open(path)
    except av.FFmpegError as exc:
        raise UnsupportedMediaError(
            display_name, gettext_noop("not a readable audio file")
        ) from exc
    with container:
        if not container.streams.audio:
            raise NoAudioStreamError(display_name, gettext_noop("has no audio stream"))
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="fltp", rate=rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.FFmpegError as exc:
            if not chunks:
                raise TruncatedMediaError(
                    display_name, gettext_noop("audio could not be decoded")
                ) from exc
    if not chunks:
        raise TruncatedMediaError(display_name, gettext_noop("audio stream holds no samples"))
    width = max(c.shape[0] for c in chunks)
    samples = np.concatenate([np.broadcast_to(c, (width, c.shape[1])) for c in chunks], axis=1)
    return samples.astype(np.float32, copy=False), int(rate)


def frame_power(mono: np.ndarray, rate: int) -> np.ndarray:
    hop = max(int(rate * FRAME_S), 1)
    n = len(mono) // hop
    if n == 0:
        return np.array([float(np.mean(mono.astype(np.float64) ** 2))])
    frames = mono[: n * hop].astype(np.float64).reshape(n, hop)
    return np.mean(frames**2, axis=1)


def longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for value in mask:
        run = run + 1 if value else 0
        best = max(best, run)
    return best


def measure(samples: np.ndarray, rate: int) -> dict:
    mono = samples.mean(axis=0)
    duration = samples.shape[1] / rate
    clip_share = float((np.abs(samples) >= CLIP_LEVEL).mean())
    power = frame_power(mono, rate)
    db = 10 * np.log10(power + 1e-12)
    loud = float(np.percentile(db, 95))
    threshold = max(-50.0, loud - 40.0)
    silent = db < threshold
    # The local mean spans one second, or the whole clip when it is shorter (a 0.5 s take is
    # a legitimate speech track; a kernel longer than the signal would change the length).
    per_second = max(min(int(round(1 / FRAME_S)), len(power)), 1)
    kernel = np.ones(per_second) / per_second
    local_mean = np.convolve(power, kernel, mode="same")
    active = ~silent
    low_energy = (power < 0.5 * local_mean) & active
    return {
        "duration_s": duration,
        "sample_rate": rate,
        "channels": int(samples.shape[0]),
        "peak": float(np.abs(samples).max()),
        "rms_dbfs": float(10 * np.log10(np.mean(mono.astype(np.float64) ** 2) + 1e-12)),
        "clipping_share": clip_share,
        "silent_share": float(silent.mean()),
        "longest_silence_s": longest_run(silent) * FRAME_S,
        "low_energy_share": float(low_energy.sum() / max(int(active.sum()), 1)),
    }


def warnings_for(stats: dict[str, Any]) -> list[Notice]:
    out: list[Notice] = []
    if stats["clipping_share"] > CLIP_SHARE_WARN:
        out.append(
            notice(
                "clipping",
                gettext_noop(
                    "The recording clips (%(pct).1f%% of samples at full scale); it will sound "
                    "distorted."
                ),
                pct=100 * stats["clipping_share"],
            )
        )
    if stats["longest_silence_s"] > LONG_SILENCE_S:
        out.append(
            notice(
                "long_silence",
                gettext_noop(
                    "There is a silence of %(s).1f s; the presenter will stand still with a closed "
                    "mouth during it."
                ),
                s=stats["longest_silence_s"],
            )
        )
    if (
        stats["duration_s"] >= MUSIC_MIN_DURATION_S
        and stats["low_energy_share"] < MUSIC_LOW_ENERGY_MAX
        and stats["silent_share"] < MUSIC_SILENT_MAX
    ):
        out.append(
            notice(
                "music_like",
                gettext_noop(
                    "This sounds like music or continuous sound rather than speech; lip-sync "
                    "follows speech best."
                ),
            )
        )
    return out


def waveform_png(samples: np.ndarray, width: int = WAVE_W, height: int = WAVE_H) -> bytes:
    """Min/max of the mono mix per pixel column, drawn as vertical lines."""
    mono = samples.mean(axis=0)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    mid = height / 2
    draw.line([(0, mid), (width - 1, mid)], fill=(148, 163, 184, 255))
    edges = np.linspace(0, len(mono), width + 1).astype(int)
    for x in range(width):
        seg = mono[edges[x] : max(edges[x + 1], edges[x] + 1)]
        if seg.size == 0:
            continue
        lo, hi = float(seg.min()), float(seg.max())
        draw.line([(x, mid - hi * (mid - 1)), (x, mid - lo * (mid - 1))], fill=(37, 99, 235, 255))
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def analyse(path: str, display_name: str) -> AudioAnalysis:
    samples, rate = decode(path, display_name)
    stats = measure(samples, rate)
    return AudioAnalysis(
        duration_s=stats["duration_s"],
        stats=stats,
        warnings=warnings_for(stats),
        waveform_png=waveform_png(samples),
    )
