"""Speech input: decoding any format, the Wav2Lip mel (vs librosa), per-frame cues."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from lipsync import audio
from lipsync.errors import NoAudioStreamError, TruncatedMediaError, UnsupportedMediaError
from tests.engine import mediagen


def librosa_wav2lip_mel(wav, pad_mode="reflect"):
    """The public Wav2Lip audio.py pipeline, written with librosa (the reference).

    Wav2Lip called ``librosa.stft`` without ``pad_mode``; the librosa it was written for
    padded by reflection (the default became zeros in librosa 0.10), so the reference pads
    by reflection explicitly.
    """
    librosa = pytest.importorskip("librosa")
    y = lfilter([1, -0.97], [1], wav)
    d = librosa.stft(y=y, n_fft=800, hop_length=200, win_length=800, pad_mode=pad_mode)
    basis = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    s = 20 * np.log10(np.maximum(1e-5, basis @ np.abs(d))) - 20
    return np.clip(8 * ((s + 100) / 100) - 4, -4, 4)


def test_mel_matches_librosa_reference(speech_wav):
    wav = audio.load_audio(speech_wav)
    mel = audio.melspectrogram(wav)
    ref = librosa_wav2lip_mel(wav)
    assert mel.shape == ref.shape == (80, 1 + wav.size // 200)
    assert mel.dtype == np.float32
    assert np.abs(mel - ref).max() < 1e-3
    assert mel.min() >= -4 and mel.max() <= 4 and mel.std() > 0.5


def test_mel_edges_are_reflection_padded_like_the_reference():
    """Zero padding (librosa's newer default) changes the first and last two columns."""
    t = np.arange(16000) / 16000
    rng = np.random.default_rng(3)
    # A voiced sound that lasts to both ends (speech cut out of a longer recording).
    wav = sum(0.3 / k * np.sin(2 * np.pi * 140 * k * t + k) for k in range(1, 25))
    wav = (wav + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    mel = audio.melspectrogram(wav)
    zero_padded = librosa_wav2lip_mel(wav, pad_mode="constant")
    edges = np.r_[0, 1, mel.shape[1] - 2, mel.shape[1] - 1]
    assert np.abs(mel - librosa_wav2lip_mel(wav)).max() < 1e-3
    # The two paddings differ only at the edges, there by a clear margin on the +-4 scale.
    assert np.abs(mel[:, 2:-2] - zero_padded[:, 2:-2]).max() < 1e-3
    assert (np.abs(mel[:, edges] - zero_padded[:, edges]).max(axis=0) > 0.3).all()


@pytest.mark.filterwarnings("ignore:n_fft=800 is too large")
def test_mel_matches_librosa_on_odd_lengths_and_quiet_input():
    rng = np.random.default_rng(1)
    for n in (1, 799, 16001):
        wav = (rng.standard_normal(n) * 0.01).astype(np.float32)
        assert np.abs(audio.melspectrogram(wav) - librosa_wav2lip_mel(wav)).max() < 1e-3


def test_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    assert np.abs(audio.mel_filterbank() - ref).max() < 1e-6


def test_mel_windows_follow_the_spec():
    mel = np.arange(80 * 100, dtype=np.float32).reshape(80, 100)
    win = audio.mel_windows(mel, fps=25, n_frames=40)
    assert win.shape == (40, 80, 16)
    for i in (0, 1, 7, 26):
        start = int(80 * i / 25)
        np.testing.assert_array_equal(win[i], mel[:, start : start + 16])
    np.testing.assert_array_equal(win[39], mel[:, 84:100])  # past the end: the last 16
    short = audio.mel_windows(mel[:, :5], fps=25, n_frames=2)
    assert short.shape == (2, 80, 16) and (short[:, :, 5:] == -4).all()
    ntsc = audio.mel_windows(mel, fps=30000 / 1001, n_frames=3)
    np.testing.assert_array_equal(ntsc[2], mel[:, 5:21])


@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a", "flac", "ogg", "opus"])
def test_load_audio_any_format(tmp_path, fmt):
    signal = mediagen.synth_speech(2.0, 16000)
    path = mediagen.make_audio(tmp_path / f"voice.{fmt}", signal=signal)
    wav = audio.load_audio(path)
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert wav.size / 16000 == pytest.approx(2.0, abs=0.08)

    def ref(x):
        return np.sqrt(np.convolve(x**2, np.ones(1600) / 1600, "same"))[::800]

    m = min(wav.size, signal.size)
    # Codec delay shifts by a few ms at most; envelopes at 50 ms resolution must agree.
    assert np.corrcoef(ref(signal[:m]), ref(wav[:m]))[0, 1] > 0.9


def test_load_audio_resamples_and_downmixes(tmp_path):
    t = np.arange(48000) / 48000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = mediagen.make_audio(tmp_path / "tone.flac", signal=tone, sr=48000)
    wav = audio.load_audio(path, sr=16000)
    assert wav.size == pytest.approx(16000, abs=20)
    spectrum = np.abs(np.fft.rfft(wav[2000:14000]))
    peak_hz = np.argmax(spectrum) * 16000 / 12000
    assert peak_hz == pytest.approx(440, abs=3)


def test_load_audio_from_a_video(tmp_path):
    clip = mediagen.make_video(
        tmp_path / "talk.mp4",
        seconds=1.0,
        size=(64, 48),
        face=False,
        audio=mediagen.synth_speech(1.5),
    )
    assert audio.load_audio(clip.path).size / 16000 == pytest.approx(1.5, abs=0.1)


def test_no_audio_stream(tmp_path):
    clip = mediagen.make_video(tmp_path / "silent.mp4", seconds=0.4, size=(64, 48))
    renamed = tmp_path / "talk.mp3"
    renamed.write_bytes(clip.path.read_bytes())
    with pytest.raises(NoAudioStreamError) as err:
        audio.load_audio(renamed)
    assert str(err.value).startswith("talk.mp3: no audio stream — choose a file with speech")


def test_not_audio(tmp_path):
    path = mediagen.make_text_file(tmp_path / "talk.wav")
    with pytest.raises(UnsupportedMediaError, match=r"^talk\.wav: not a media file"):
        audio.load_audio(path)


@pytest.mark.parametrize("fmt", ["wav", "flac", "m4a"])
def test_truncated_audio(tmp_path, fmt):
    full = mediagen.make_audio(tmp_path / f"full.{fmt}", seconds=4.0)
    cut = mediagen.truncate(full, tmp_path / f"talk.{fmt}", 0.5)
    with pytest.raises(TruncatedMediaError) as err:
        audio.load_audio(cut)
    assert str(err.value).startswith(f"talk.{fmt}: file is truncated")


def test_envelope_tracks_speech_and_ignores_level():
    sr, fps = 16000, 25
    sig = np.zeros(3 * sr, np.float32)
    t = np.arange(sr) / sr
    sig[sr : 2 * sr] = 0.5 * np.sin(2 * np.pi * 200 * t)  # 1 s of sound in the middle
    env = audio.loudness_envelope(sig, fps, 75)
    assert env.shape == (75,) and env.dtype == np.float32
    assert (env[:24] == 0).all() and (env[51:] == 0).all()
    assert (env[27:48] > 0.95).all()
    quiet = audio.loudness_envelope(sig * 0.01, fps, 75)  # 40 dB lower, same shape
    np.testing.assert_allclose(quiet, env, atol=0.02)
    assert not audio.loudness_envelope(np.zeros(sr, np.float32), fps, 25).any()


def test_speech_activity_hysteresis():
    sr, fps = 16000, 25
    t = np.arange(3 * sr) / sr
    sig = 0.5 * np.sin(2 * np.pi * 180 * t)
    sig[int(0.8 * sr) : int(0.84 * sr)] = 0  # a 40 ms gap inside a word: bridged
    sig[int(1.5 * sr) : int(2.0 * sr)] = 0  # a real pause: speech stops
    act = audio.speech_activity(sig.astype(np.float32), fps, 75)
    assert act.dtype == bool and act.shape == (75,)
    assert act[5:37].all()
    assert not act[42:48].any()
    assert act[52:73].all()


def test_audio_features_tell_rounded_from_spread_vowels():
    sr, fps = 16000, 25
    t = np.arange(sr) / sr
    phase = 2 * np.pi * 120 * t

    def vowel(f1, f2):
        source = sum(np.sin(h * phase) / h for h in range(1, 40))
        out = source
        for fc, bw in ((f1, 80), (f2, 100)):
            r = np.exp(-np.pi * bw / sr)
            out = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * fc / sr), r * r], out)
        return (0.3 * out / np.abs(out).max()).astype(np.float32)

    u = audio.audio_features(vowel(300, 870), fps, 25)  # "oo": low F2
    i = audio.audio_features(vowel(270, 2290), fps, 25)  # "ee": high F2
    a = audio.audio_features(vowel(730, 1090), fps, 25)  # "ah": high F1
    s = audio.audio_features(
        np.random.default_rng(0).standard_normal(sr).astype(np.float32) * 0.1, fps, 25
    )
    mid = slice(5, 20)
    assert u.roundness[mid].mean() > i.roundness[mid].mean() + 0.3
    assert u.roundness[mid].mean() > a.roundness[mid].mean() + 0.3
    assert a.openness[mid].mean() > max(u.openness[mid].mean(), i.openness[mid].mean()) + 0.3
    assert s.sibilance[mid].mean() > 0.3 > u.sibilance[mid].mean()
    for f in (u, i, a, s):
        assert f.n_frames == 25 and f.activity[mid].all()
        for arr in (f.envelope, f.centroid, f.roundness, f.openness, f.brightness, f.sibilance):
            assert arr.shape == (25,) and arr.dtype == np.float32
            assert arr.min() >= 0 and arr.max() <= 1


def test_audio_features_on_speech(speech_wav):
    wav = audio.load_audio(speech_wav)
    n = int(round(wav.size / 16000 * 25))
    f = audio.audio_features(wav, 25, n)
    assert 0.3 < f.activity.mean() < 0.98
    assert f.envelope[f.activity].mean() > f.envelope[~f.activity].mean() + 0.3
    assert f.roundness[f.activity].std() > 0.03  # it moves with the vowels


@pytest.mark.skipif(not mediagen.espeak_available(), reason="needs espeak-ng")
def test_audio_features_on_spoken_vowels(tmp_path):
    def loud_mean(word, field):
        path = mediagen.make_speech_wav(tmp_path / f"{word}.wav", text=word)
        wav = audio.load_audio(path)
        f = audio.audio_features(wav, 25, int(round(wav.size / 16000 * 25)))
        return float(getattr(f, field)[f.envelope > 0.7].mean())

    rounded = min(loud_mean(w, "roundness") for w in ("who", "food", "go"))
    spread = max(loud_mean(w, "roundness") for w in ("see", "feet", "ah"))
    assert rounded > spread + 0.3
    assert loud_mean("ah", "openness") > max(loud_mean(w, "openness") for w in ("see", "who")) + 0.3
    assert loud_mean("see", "centroid") > loud_mean("who", "centroid") + 0.2
    assert loud_mean("see", "brightness") > loud_mean("who", "brightness") + 0.1
