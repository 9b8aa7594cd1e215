"""The benchmark's lip-sync score and its helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from lipsync_score import detrend, frame_rms, moving_average, sync_score


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.convolve(rng.random(n), np.ones(3) / 3, mode="same")
    return x + np.linspace(0, 2, n)  # plus a slow drift the score must ignore


@pytest.mark.parametrize("lag", [-3, -1, 0, 2, 3])
def test_a_signal_correlates_with_its_shifted_self(lag):
    full = _speechlike(406)
    env = full[3:403]
    mouth = full[3 - lag : 403 - lag] * 0.05 + 0.3  # follows the sound by ``lag`` frames
    score, found = sync_score(mouth, env, 25.0)
    assert score > 0.95
    assert found == lag


def test_noise_and_a_static_mouth_score_about_zero():
    env = _speechlike(600, seed=1)
    noise = np.random.default_rng(2).random(600)
    score, _ = sync_score(noise, env, 25.0)
    assert abs(score) < 0.2
    score, _ = sync_score(np.full(600, 0.08), env, 25.0)
    assert score == 0.0
    # Only a slow sway in common (removed by the 1 s moving average): near zero too.
    t = np.arange(600) / 25
    sway = np.sin(2 * np.pi * 0.05 * t)
    other = np.random.default_rng(3).random(600)
    score, _ = sync_score(sway + 0.1 * noise, sway + 0.1 * other, 25.0)
    assert score < 0.3
    assert sync_score(sway + 0.1 * noise, sway + 0.1 * noise, 25.0)[0] > 0.95


def test_frames_without_a_face_are_left_out():
    env = _speechlike(300)
    mouth = env.copy()
    mouth[50:60] = np.nan
    score, lag = sync_score(mouth, env, 25.0)
    assert score > 0.95 and lag == 0
    assert sync_score(np.full(300, np.nan), env, 25.0) == (0.0, 0)


def test_moving_average_and_detrend():
    x = np.arange(10, dtype=float)
    assert np.allclose(moving_average(x, 3)[1:-1], x[1:-1])
    assert np.allclose(detrend(np.full(50, 7.0), 25), 0)


def test_frame_rms_follows_loudness():
    sr, fps = 16000, 25
    wav = np.zeros(sr, np.float32)
    wav[sr // 2 :] = 0.5 * np.sin(np.arange(sr // 2) * 0.3)
    rms = frame_rms(wav, sr, fps, 25)
    assert rms[:12].max() == 0
    assert rms[13:].min() == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
