"""Speech input: decoding, the Wav2Lip mel spectrogram, and per-video-frame speech cues.

Everything here is numpy/scipy (no librosa at run time). The mel spectrogram follows
``shared/specs/wav2lip.md`` exactly; the other features serve the weight-free engine, which
opens and shapes the mouth from loudness and spectral shape.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import av
import numpy as np
from scipy.signal import lfilter

from .errors import NoAudioStreamError, TruncatedMediaError, reason
from .media.probe import (
    NO_AUDIO_STREAM,
    TRUNCATED_AT,
    PathLike,
    declared_duration,
    open_container,
    probe,
)

SAMPLE_RATE = 16000
NO_AUDIO_SAMPLES = reason("file is truncated at 0.0 s (no audio samples)")
# Wav2Lip hyper-parameters (hparams.py of the public code).
N_FFT = 800
HOP = 200
WIN = 800
N_MELS = 80
FMIN = 55.0
FMAX = 7600.0
PREEMPHASIS = 0.97
REF_LEVEL_DB = 20.0
MIN_LEVEL_DB = -100.0
MAX_ABS_VALUE = 4.0
MEL_STEP = 16  # mel frames per Wav2Lip window
MEL_FPS = SAMPLE_RATE / HOP  # 80 mel frames per second


# ----------------------------------------------------------------------------- decoding


def load_audio(path: PathLike, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Decode the first audio stream of any audio or video file to float32 mono at ``sr``.

    Raises :class:`NoAudioStreamError` when there is none and :class:`TruncatedMediaError`
    when the file breaks off or ends well before its declared length.
    """
    path = os.fspath(path)
    info = probe(path)
    if not info.has_audio:
        raise NoAudioStreamError(path, NO_AUDIO_STREAM)
    container = open_container(path)
    chunks: list[np.ndarray] = []
    t = 0.0
    try:
        stream = next(s for s in container.streams.audio if s.codec_context is not None)
        # What stream.thread_type = ... sets (PyAV's AudioStream stub lacks that name).
        stream.codec_context.thread_type = "AUTO"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    if frame.time is not None:
                        t = float(frame.time)
                    frame.pts = None
                    chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
        except av.FFmpegError as exc:
            raise TruncatedMediaError(path, TRUNCATED_AT, {"t": f"{t:.1f}"}) from exc
    finally:
        container.close()
    wav = (
        np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    )
    got = wav.size / sr
    declared = declared_duration(info, "audio")
    if declared and declared - got > max(0.5, 0.03 * declared):
        raise TruncatedMediaError(path, TRUNCATED_AT, {"t": f"{got:.1f}"})
    if wav.size == 0:
        raise TruncatedMediaError(path, NO_AUDIO_SAMPLES)
    return wav


# ----------------------------------------------------------------------------- mel (Wav2Lip)


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's auditory scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = hz / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_t = hz >= min_log_hz
    mels = np.where(log_t, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, mels)
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_t = mels >= min_log_mel
    return np.where(log_t, min_log_hz * np.exp(logstep * (mels - min_log_mel)), freqs)


@functools.lru_cache(maxsize=4)
def mel_filterbank(
    sr: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> np.ndarray:
    """Slaney-normalised triangular mel filters, shape (n_mels, 1 + n_fft // 2)."""
    fft_freqs = np.linspace(0, sr / 2.0, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    weights.setflags(write=False)
    return weights


def stft_magnitude(wav: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT| with a periodic Hann window, centred frames, (1 + n_fft//2, T).

    The edges are padded by reflection, as the public Wav2Lip code got from the librosa of
    its time (``librosa.stft`` then defaulted to ``pad_mode="reflect"``; librosa 0.10 changed
    the default to zeros). Zero padding made the first and last two mel columns differ from
    what the weights were trained on by 0.7-1.2 on the +-4 scale.
    """
    x = np.asarray(wav, dtype=np.float64)
    # numpy reflects repeatedly when the signal is shorter than the padding, as librosa does.
    x = np.pad(x, n_fft // 2, mode="reflect" if x.size else "constant")
    n_frames = 1 + (x.size - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(n_frames, n_fft), strides=(x.strides[0] * hop, x.strides[0]), writeable=False
    )
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.abs(np.fft.rfft(frames * window, axis=1)).T


def melspectrogram(wav: np.ndarray) -> np.ndarray:
    """Wav2Lip's normalised log-mel spectrogram of 16 kHz audio: (80, T) float32 in [-4, 4]."""
    wav = np.asarray(wav, dtype=np.float64).reshape(-1)
    emphasised = lfilter([1.0, -PREEMPHASIS], [1.0], wav)
    mel = mel_filterbank() @ stft_magnitude(emphasised)
    db = 20.0 * np.log10(np.maximum(1e-5, mel)) - REF_LEVEL_DB
    norm = (2 * MAX_ABS_VALUE) * ((db - MIN_LEVEL_DB) / -MIN_LEVEL_DB) - MAX_ABS_VALUE
    clipped: np.ndarray = np.clip(norm, -MAX_ABS_VALUE, MAX_ABS_VALUE).astype(np.float32)
    return clipped


def mel_windows(mel: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """The 16-frame mel window for each video frame: (n_frames, 80, 16) float32.

    Frame ``i`` starts at mel frame ``int(80 * i / fps)``; where that runs past the end, the
    last 16 frames are used. Audio shorter than 16 mel frames is padded with silence (-4).
    """
    if mel.shape[1] < MEL_STEP:
        mel = np.pad(mel, ((0, 0), (0, MEL_STEP - mel.shape[1])), constant_values=-MAX_ABS_VALUE)
    total = mel.shape[1]
    out = np.empty((n_frames, mel.shape[0], MEL_STEP), np.float32)
    for i in range(n_frames):
        start = int(MEL_FPS * i / fps)
        if start + MEL_STEP > total:
            start = total - MEL_STEP
        out[i] = mel[:, start : start + MEL_STEP]
    return out


# ----------------------------------------------------------------------------- frame cues

#: Loudness range mapped onto 0..1 below the loud (95th percentile) level, in dB.
ENVELOPE_RANGE_DB = 40.0
#: Absolute floor: frames quieter than this (dBFS) are silence whatever the recording level.
SILENCE_DBFS = -65.0


def _frame_bounds(
    n_samples: int, sr: int, fps: float, n_frames: int, min_len_s: float = 0.03
) -> tuple[np.ndarray, np.ndarray]:
    """Sample range of each video frame's interval, widened to at least ``min_len_s``."""
    i = np.arange(n_frames)
    centre = (i + 0.5) / fps * sr
    half = max(0.5 / fps, min_len_s / 2) * sr
    lo = np.clip(np.floor(centre - half), 0, n_samples).astype(np.int64)
    hi = np.clip(np.ceil(centre + half), 0, n_samples).astype(np.int64)
    return lo, hi


def _frame_db(wav: np.ndarray, fps: float, n_frames: int, sr: int) -> np.ndarray:
    wav = np.asarray(wav, dtype=np.float64).reshape(-1)
    lo, hi = _frame_bounds(wav.size, sr, fps, n_frames)
    csum = np.concatenate([[0.0], np.cumsum(wav * wav)])
    count = np.maximum(hi - lo, 1)
    power = np.maximum(csum[hi] - csum[lo], 0.0) / count
    db: np.ndarray = 10.0 * np.log10(power + 1e-12)
    return db


def loudness_envelope(
    wav: np.ndarray, fps: float, n_frames: int, sr: int = SAMPLE_RATE
) -> np.ndarray:
    """Per-video-frame loudness in 0..1, independent of the recording's overall level.

    RMS in dB over each frame's interval, measured against the loud level of the whole track
    (its 95th percentile): that level maps to 1, ``ENVELOPE_RANGE_DB`` below it to 0. Frames
    below ``SILENCE_DBFS`` are 0 in any case, so digital silence never opens the mouth.
    """
    if n_frames <= 0:
        return np.zeros(0, np.float32)
    db = _frame_db(wav, fps, n_frames, sr)
    audible = db > SILENCE_DBFS
    if not audible.any():
        return np.zeros(n_frames, np.float32)
    top = np.percentile(db[audible], 95)
    env = np.clip((db - (top - ENVELOPE_RANGE_DB)) / ENVELOPE_RANGE_DB, 0.0, 1.0)
    env[~audible] = 0.0
    envelope: np.ndarray = env.astype(np.float32)
    return envelope


def speech_activity(
    wav: np.ndarray,
    fps: float,
    n_frames: int,
    sr: int = SAMPLE_RATE,
    on: float = 0.55,
    off: float = 0.35,
    hangover_s: float = 0.1,
) -> np.ndarray:
    """Whether speech is going on at each video frame (bool, shape (n_frames,)).

    Energy with hysteresis: speech starts when the envelope rises above ``on`` and stops
    when it has stayed below ``off`` for ``hangover_s`` (short gaps inside words don't count).
    """
    return _activity(loudness_envelope(wav, fps, n_frames, sr), fps, on, off, hangover_s)


def _activity(env: np.ndarray, fps: float, on: float, off: float, hangover_s: float) -> np.ndarray:
    hang = max(1, int(round(hangover_s * fps)))
    active = np.zeros(env.size, bool)
    state, quiet = False, 0
    for i, e in enumerate(env):
        if not state and e >= on:
            state, quiet = True, 0
        elif state:
            quiet = quiet + 1 if e < off else 0
            if quiet > hang:
                state = False
        active[i] = state
    return active


@dataclass(frozen=True)
class AudioFeatures:
    """Per-video-frame speech cues for driving a mouth (all arrays have ``n_frames`` rows).

    - ``envelope``: loudness 0..1 (see :func:`loudness_envelope`); how far the mouth opens.
    - ``activity``: bool, speech is going on (hysteresis, see :func:`speech_activity`).
    - ``centroid``: spectral centroid of 100-5000 Hz (half the voice's tilt undone) on a log
      scale, 300 Hz -> 0, 3 kHz -> 1: low for o/u, high for i/e and fricatives.
    - ``roundness``: 0..1, high for rounded vowels (o, u: low second formant and a closed
      jaw), low for spread front vowels (i, e) and for open "a"; from the centroids of the
      F1 (200-1000 Hz) and F2 (700-3000 Hz, tilt-corrected) regions.
    - ``openness``: 0..1 from the F1 region's centroid, 300 Hz -> 0 (i, u) to 750 Hz -> 1 (a):
      how far the jaw drops for the vowel, independent of loudness.
    - ``brightness``: share of 1-4 kHz energy in 150-4000 Hz, 0..1 (open/spread vs rounded).
    - ``sibilance``: share of energy above 4 kHz, 0..1 (s, sh, f: teeth close, lips narrow).

    Spectral cues are smoothed over about 60 ms and set to their neutral 0.5 (0 for
    sibilance) where there is no sound.
    """

    fps: float
    envelope: np.ndarray
    activity: np.ndarray
    centroid: np.ndarray
    roundness: np.ndarray
    openness: np.ndarray
    brightness: np.ndarray
    sibilance: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.envelope.size)


def _band(freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (freqs >= lo) & (freqs < hi)


def audio_features(
    wav: np.ndarray, fps: float, n_frames: int, sr: int = SAMPLE_RATE
) -> AudioFeatures:
    """Compute :class:`AudioFeatures` for ``n_frames`` video frames at ``fps``."""
    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    env = loudness_envelope(wav, fps, n_frames, sr)
    activity = _activity(env, fps, 0.55, 0.35, 0.1)
    n_fft = 512 if sr <= 16000 else 1024
    centres = ((np.arange(n_frames) + 0.5) / fps * sr).astype(np.int64)
    padded = np.pad(wav.astype(np.float64), (n_fft, n_fft))
    starts = np.clip(centres - n_fft // 2 + n_fft, 0, padded.size - n_fft)
    idx = starts[:, None] + np.arange(n_fft)[None, :]
    window = np.hanning(n_fft)
    spec = (
        np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2
        if n_frames
        else np.zeros((0, n_fft // 2 + 1))
    )
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    eps = 1e-12

    def centroid_of(lo: float, hi: float, tilt: float = 0.0) -> np.ndarray:
        m = _band(freqs, lo, hi)
        p = spec[:, m] * (freqs[m] / 1000.0) ** tilt
        centroid: np.ndarray = (p * freqs[m]).sum(1) / (p.sum(1) + eps)
        return centroid

    cen = centroid_of(100, 5000, tilt=1.0)
    centroid = np.clip(np.log(np.maximum(cen, 1.0) / 300.0) / np.log(10.0), 0, 1)
    f1 = centroid_of(200, 1000)
    # F2 region with the voice's -6 dB/octave tilt undone (power x f^2), so the formant peak
    # rather than the strong low harmonics sets the centroid.
    f2 = centroid_of(700, 3000, tilt=2.0)
    openness = np.clip((f1 - 300.0) / 450.0, 0, 1)
    roundness = np.clip((2300.0 - f2) / 800.0, 0, 1) * np.clip((800.0 - f1) / 300.0, 0, 1)
    low = spec[:, _band(freqs, 150, 1000)].sum(1)
    high = spec[:, _band(freqs, 1000, 4000)].sum(1)
    brightness = high / (low + high + eps)
    top = spec[:, freqs >= 4000].sum(1)
    sibilance = top / (spec[:, _band(freqs, 150, sr / 2 + 1)].sum(1) + eps)

    silent = env <= 0.0
    smooth = max(1, int(round(0.06 * fps)))
    out = []
    for arr, neutral in (
        (centroid, 0.5),
        (roundness, 0.5),
        (openness, 0.5),
        (brightness, 0.5),
        (sibilance, 0.0),
    ):
        arr = np.where(silent, neutral, arr)
        if smooth > 1 and arr.size:
            kernel = np.ones(smooth) / smooth
            arr = np.convolve(
                np.pad(arr, (smooth // 2, smooth - 1 - smooth // 2), mode="edge"),
                kernel,
                mode="valid",
            )
        out.append(np.clip(arr, 0, 1).astype(np.float32))
    return AudioFeatures(
        fps=float(fps),
        envelope=env,
        activity=activity,
        centroid=out[0],
        roundness=out[1],
        openness=out[2],
        brightness=out[3],
        sibilance=out[4],
    )
