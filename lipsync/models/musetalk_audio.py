"""MuseTalk 1.5's audio conditioning: Whisper encoder states, per-frame windows, positional code.

Following the public v1.5 inference (see docs/ARCHITECTURE.md, "MuseTalk 1.5"):

1. 16 kHz mono speech in consecutive 30 s pieces, each through Whisper's feature extractor
   (80 log-mel bins, 100 frames/s, padded to 30 s) and the Whisper-tiny encoder;
2. *all* hidden states are kept (the conv stem + positions, the outputs of layers 0-2 and the
   final layer-normed output): 5 x (1500, D) per piece, stacked to (1500, 5, D), pieces
   concatenated, trimmed to floor(seconds x 50) feature frames (20 ms each);
3. each video frame takes 10 consecutive feature frames (200 ms) with zeros beyond the ends,
   flattened time-major to 50 tokens (token 5t + h), plus a sinusoidal positional code.

One deliberate difference: upstream starts frame i's window at ``floor(i * 50 / int(fps))``,
which truncates the frame rate (29.97 -> 29) so the lips drift ahead over a long clip. Here the
window is centred on the frame's real time, ``(i + 0.5) / fps``; at 25 fps (MuseTalk's own rate)
both give exactly the same windows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

SAMPLE_RATE = 16000
PIECE_SAMPLES = 30 * SAMPLE_RATE
#: Encoder feature frames per second (Whisper's conv stem has stride 2 on 100 mel frames/s).
FEATURES_PER_SECOND = 50
#: Feature frames per video frame's window, and hidden states kept per feature frame.
WINDOW = 10
N_STATES = 5
TOKENS = WINDOW * N_STATES
#: Pieces encoded at once.
ENCODER_BATCH = 4


def positional_encoding(tokens: int, dim: int) -> torch.Tensor:
    """(tokens, dim): channel 2j = sin(k / 10000^(2j/dim)), 2j + 1 = cos(...), k the token."""
    k = torch.arange(tokens, dtype=torch.float64)[:, None]
    j = torch.arange(0, dim, 2, dtype=torch.float64)
    angle = k * torch.exp(-math.log(10000.0) * j / dim)
    pe = torch.zeros(tokens, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()


def mel_pieces(wav: np.ndarray, preprocessor: Mapping[str, Any]) -> np.ndarray:
    """Whisper log-mel features of each 30 s piece: (P, 80, 3000) float32."""
    import transformers

    extractor_class: Any = transformers.WhisperFeatureExtractor
    settings = {k: v for k, v in preprocessor.items() if not k.startswith("_")}
    settings.pop("feature_extractor_type", None)
    settings.pop("processor_class", None)
    extractor = extractor_class(**settings)
    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    pieces = [wav[i : i + PIECE_SAMPLES] for i in range(0, max(wav.size, 1), PIECE_SAMPLES)]
    out = extractor(pieces, sampling_rate=SAMPLE_RATE, return_tensors="np")
    features: np.ndarray = np.asarray(out["input_features"], dtype=np.float32)
    return features


def encoder_states(
    wav: np.ndarray,
    encoder: Any,
    preprocessor: Mapping[str, Any],
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """All hidden states of the Whisper encoder, (A, 5, D), A = floor(seconds x 50)."""
    mels = mel_pieces(wav, preprocessor)
    chunks = []
    with torch.inference_mode():
        for i in range(0, len(mels), ENCODER_BATCH):
            x = torch.from_numpy(mels[i : i + ENCODER_BATCH]).to(device=device, dtype=dtype)
            states = encoder(x, output_hidden_states=True).hidden_states
            if len(states) != N_STATES:
                raise ValueError(f"Whisper encoder gave {len(states)} hidden states, not 5")
            stacked = torch.stack(tuple(states), dim=2)  # (b, 1500, 5, D)
            chunks.append(stacked.reshape(-1, N_STATES, stacked.shape[-1]))
    states_all = torch.cat(chunks, dim=0)
    n_features = int(len(wav) / SAMPLE_RATE * FEATURES_PER_SECOND)
    return states_all[:n_features]


def window_starts(n_frames: int, fps: float) -> np.ndarray:
    """First feature frame of each video frame's 10-frame window (may be negative)."""
    centre = (np.arange(n_frames) + 0.5) * (FEATURES_PER_SECOND / float(fps))
    starts: np.ndarray = np.floor(centre - WINDOW / 2 + 0.5).astype(np.int64)
    return starts


def frame_windows(states: torch.Tensor, n_frames: int, fps: float) -> torch.Tensor:
    """(n_frames, 50, D): each frame's 10 feature frames x 5 states, zeros past the ends."""
    n, _, dim = states.shape
    starts = window_starts(n_frames, fps)
    lo = max(0, -int(starts.min(initial=0)))
    hi = max(0, int(starts.max(initial=0)) + WINDOW - n)
    padded = torch.cat(
        [states.new_zeros(lo, N_STATES, dim), states, states.new_zeros(hi, N_STATES, dim)]
    )
    index = torch.from_numpy(starts + lo)[:, None] + torch.arange(WINDOW)[None, :]
    windows = padded[index.to(padded.device)]  # (n_frames, 10, 5, D)
    return windows.reshape(n_frames, TOKENS, dim)


def audio_conditioning(
    wav: np.ndarray,
    encoder: Any,
    preprocessor: Mapping[str, Any],
    n_frames: int,
    fps: float,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """What the UNet attends to for each video frame: windows + positional code, (N, 50, D)."""
    states = encoder_states(wav, encoder, preprocessor, device, dtype)
    windows = frame_windows(states, n_frames, fps)
    pe = positional_encoding(TOKENS, windows.shape[-1]).to(device=device, dtype=dtype)
    return windows + pe
