"""Silence stays closed: the shared speech activity, its gate, and every engine applying it.

The engines are checked on a presenter whose own mouth is open (the astronaut smiles with her
teeth showing: a fresh landmark pass reads an inner-lip gap of about 0.08 face heights), driven
by speech with silence before and after it over a noise floor. In the silent stretches an
independent landmark pass (:class:`lipsync.quality.MouthMeter`, sharing nothing with the
engine's track) must find the mouth closed, on the weight-free engine and on both neural ones
(random weights, as their own tests use).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipsync import silence
from tests.engine import mediagen

SR = 16000
FPS = 25.0


def _tone_bursts(spans: list[tuple[float, float]], seconds: float, level: float = 0.3):
    """Voiced-like bursts (a 140 Hz buzz with harmonics) over ``spans`` of a silent track."""
    t = np.arange(int(seconds * SR)) / SR
    buzz = sum(np.sin(2 * np.pi * 140 * h * t) / h for h in range(1, 12))
    out = np.zeros_like(t)
    for a, b in spans:
        m = (t >= a) & (t < b)
        out[m] = buzz[m]
    return (level * out / max(np.abs(out).max(), 1e-9)).astype(np.float32)


def _noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * SR)) * 10 ** (dbfs / 20)).astype(np.float32)


def _frames_of(spans: list[tuple[float, float]], n: int) -> np.ndarray:
    t = (np.arange(n) + 0.5) / FPS
    return np.any([(t >= a) & (t < b) for a, b in spans], axis=0)


# ----------------------------------------------------------------------------- activity


@pytest.mark.parametrize("floor_dbfs", [None, -50.0, -30.0])
def test_activity_finds_speech_over_any_noise_floor(floor_dbfs):
    spans = [(0.8, 1.6), (2.6, 3.4)]
    wav = _tone_bursts(spans, 4.0)
    if floor_dbfs is not None:
        wav = wav + _noise(4.0, floor_dbfs)
    n = int(4.0 * FPS)
    act = silence.speech_activity(wav, FPS, n)
    speech = _frames_of(spans, n)
    assert act.shape == (n,) and act.dtype == bool
    assert act[speech].mean() > 0.95
    # Silence well away from speech (beyond the hangover) is silence, hiss or not.
    far = ~_frames_of([(a - 0.3, b + 0.4) for a, b in spans], n)
    assert not act[far].any()


def test_steady_noise_hum_and_digital_silence_are_not_speech():
    n = int(3.0 * FPS)
    assert not silence.speech_activity(np.zeros(3 * SR, np.float32), FPS, n).any()
    assert not silence.speech_activity(_noise(3.0, -20.0), FPS, n).any()
    t = np.arange(3 * SR) / SR
    hum = (0.2 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
    assert not silence.speech_activity(hum, FPS, n).any()
    assert silence.speech_activity(np.zeros(0, np.float32), FPS, 0).shape == (0,)


def test_clicks_are_not_speech_and_short_pauses_do_not_close_the_mouth():
    wav = _tone_bursts([(0.5, 1.2), (1.35, 2.0)], 4.0) + _noise(4.0, -55.0)
    wav[int(3.0 * SR) : int(3.0 * SR) + 160] = 0.5  # a 10 ms click
    n = int(4.0 * FPS)
    act = silence.speech_activity(wav, FPS, n)
    assert act[_frames_of([(0.5, 2.0)], n)].all()  # the 150 ms pause is bridged
    assert not act[_frames_of([(2.6, 4.0)], n)].any()


def test_gate_opens_before_speech_and_ramps_smoothly():
    act = np.zeros(60, bool)
    act[20:30] = True
    g = silence.silence_gate(act, FPS)
    assert g.dtype == np.float32 and g.shape == (60,)
    assert (g[act] == 1.0).all()
    assert g[19] == 1.0 and g[30] == 1.0  # lips move a little before the sound
    assert (g[:10] == 0).all() and (g[40:] == 0).all()
    up, down = g[10:20], g[30:40]
    assert (np.diff(up) >= 0).all() and (np.diff(down) <= 0).all()
    assert 0 < up[up > 0].min() < 0.5 < up[up < 1].max() < 1  # at least two ramp steps
    assert np.abs(np.diff(g)).max() < 0.6
    assert (silence.silence_gate(np.zeros(5, bool), FPS) == 0).all()


# ----------------------------------------------------------------------------- engines

SPEECH = [(1.0, 2.2)]
SECONDS = 3.2


@pytest.fixture(scope="module")
def silent_speech(tmp_path_factory) -> Path:
    """1 s of room noise, 1.2 s of speech, 1 s of room noise (the noise at -50 dBFS)."""
    root = tmp_path_factory.mktemp("silence-audio")
    n = int(1.2 * SR)
    speech = mediagen.synth_speech(1.2, SR)[:n]
    wav = _noise(SECONDS, -50.0)
    wav[int(1.0 * SR) : int(1.0 * SR) + n] += speech
    return mediagen.write_wav(root / "speech.wav", wav)


@pytest.fixture(scope="module")
def presenter(tmp_path_factory) -> Path:
    """A still of the astronaut, her mouth open in a smile (a landmark pass reads ~0.08)."""
    return mediagen.make_image(
        tmp_path_factory.mktemp("silence-face") / "face.png", size=(288, 288)
    )


def _mouth_per_frame(path: Path) -> np.ndarray:
    from lipsync.media.video import open_video
    from lipsync.quality import MouthMeter

    meter = MouthMeter()
    with open_video(path) as v:
        return np.array([meter.measure(f.image) for f in v.frames()])


def _render(engine, presenter: Path, audio: Path, out: Path):
    track = engine.prepare(presenter)
    result = engine.render(audio, presenter, track, out)
    mouth = _mouth_per_frame(Path(result.path))
    gate = silence.speech_gate(mediagen.decode_audio(audio), result.fps, result.frames).gate
    return result, mouth, gate


def _source_opening(presenter: Path) -> float:
    from lipsync.media.video import open_video
    from lipsync.quality import MouthMeter

    with open_video(presenter) as v:
        return MouthMeter().measure(next(iter(v.frames())).image)


def _assert_closed_in_silence(mouth: np.ndarray, gate: np.ndarray, source_open: float) -> None:
    silent = gate <= 0
    assert silent.sum() >= 30  # about 1 s each side, less the ramps
    measured = mouth[silent]
    assert np.isfinite(measured).mean() > 0.9  # the landmark pass found the face
    assert source_open > 0.05  # the template's own mouth is open...
    assert np.nanmean(measured) < 0.3 * source_open  # ...and in silence it is closed
    assert np.nanmax(measured) < 0.5 * source_open


def test_warp_engine_closes_the_mouth_in_silence(presenter, silent_speech, tmp_path):
    from lipsync.engines import get_engine

    engine = get_engine("warp", cache_dir=tmp_path / "cache")
    result, mouth, gate = _render(engine, presenter, silent_speech, tmp_path / "warp.mp4")
    assert result.frames == int(SECONDS * FPS)
    assert result.stats["silent_frames"] == int((gate <= 0).sum())
    _assert_closed_in_silence(mouth, gate, _source_opening(presenter))
    speaking = np.nanmean(mouth[gate >= 1])
    assert speaking > 4 * np.nanmean(mouth[gate <= 0])  # it does open when spoken to


@pytest.fixture(scope="module")
def wav2lip_dir(tmp_path_factory) -> Path:
    import torch

    from lipsync.models.wav2lip import Wav2Lip

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("silence-w2l") / "wav2lip_gan.pth"
    torch.save({"state_dict": Wav2Lip().eval().state_dict()}, path)
    return path.parent


@pytest.fixture(scope="module")
def musetalk_dir(tmp_path_factory) -> Path:
    from tests.engine import modelgen

    root = tmp_path_factory.mktemp("silence-mt")
    modelgen.write_musetalk(root, meta=False, reduced=True)
    return root


@pytest.mark.parametrize("name", ["wav2lip", "musetalk15"])
def test_neural_engines_close_the_mouth_in_silence(
    name, presenter, silent_speech, tmp_path, request
):
    from lipsync.engines import get_engine

    model_dir = request.getfixturevalue("wav2lip_dir" if name == "wav2lip" else "musetalk_dir")
    engine = get_engine(name, device="cpu", model_dir=model_dir, cache_dir=tmp_path / "cache")
    result, mouth, gate = _render(engine, presenter, silent_speech, tmp_path / f"{name}.mp4")
    _assert_closed_in_silence(mouth, gate, _source_opening(presenter))
    # The network ran only where the gate is open: silent frames never reach it.
    assert result.stats["silent_frames"] == int((gate <= 0).sum())
    # And where someone speaks, its (random-weight) face is what shows, not the closed mouth.
    from lipsync.media.video import open_video

    with open_video(result.path) as v:
        frames = [f.image.astype(int) for f in v.frames()]
    track = engine.prepare(presenter)
    x0, y0, x1, y1 = np.round(track.boxes[0]).astype(int)
    lower = (slice((y0 + y1) // 2, y1), slice(x0, x1))
    quiet = frames[int(np.flatnonzero(gate <= 0)[0])][lower]
    changed = [np.abs(frames[t][lower] - quiet).mean() for t in np.flatnonzero(gate >= 1)]
    assert np.median(changed) > 4.0


def test_a_still_in_silence_animates_its_closed_mouth_once(
    presenter, silent_speech, tmp_path, monkeypatch
):
    """The warp engine reuses the closed mouth of a still while the gate stays shut."""
    from lipsync.engines import get_engine, warp

    calls = []
    real = warp.animate_mouth

    def counting(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(warp, "animate_mouth", counting)
    engine = get_engine("warp", cache_dir=tmp_path / "cache")
    result = engine.render(silent_speech, presenter, None, tmp_path / "still.mp4")
    gate = silence.speech_gate(mediagen.decode_audio(silent_speech), result.fps, result.frames).gate
    silent_runs = len(silence._runs(gate <= 0))
    assert result.frames - len(calls) >= int((gate <= 0).sum()) - silent_runs
    assert calls.count(0.0) <= silent_runs + 2
