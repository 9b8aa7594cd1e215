"""Test media made once per session for the platform tests (real files, good and bad)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tests.engine import mediagen


@pytest.fixture(scope="session")
def media_files(tmp_path_factory) -> SimpleNamespace:
    d = tmp_path_factory.mktemp("platform-media")
    f = SimpleNamespace(dir=d)
    f.video = mediagen.make_video(d / "anna clip.mp4", seconds=0.6, size=(320, 240)).path
    f.video_sound = mediagen.make_video(
        d / "with sound.mov",
        seconds=0.6,
        size=(320, 240),
        container="mov",
        audio=mediagen.synth_speech(0.6),
    ).path
    f.noface = mediagen.make_video(
        d / "empty room.mp4", seconds=0.4, size=(320, 240), face=False
    ).path
    f.photo = mediagen.make_image(d / "bert.jpg")
    f.png = mediagen.make_image(d / "carla.png")
    f.notes = mediagen.make_text_file(d / "notes.txt")
    long_clip = mediagen.make_video(d / "long.mp4", seconds=2.0, size=(160, 120), face=False)
    f.truncated = mediagen.truncate(long_clip.path, d / "cut.mp4", 0.4)
    f.unknown_codec = mediagen.make_unknown_codec_avi(d / "odd.avi")
    f.speech = mediagen.make_speech_wav(d / "intro.wav", seconds=6.0)
    f.audio = {
        fmt: mediagen.make_audio(d / f"voice.{fmt}", seconds=1.0)
        for fmt in ("wav", "mp3", "m4a", "flac", "ogg")
    }
    sr = 16000
    t = np.arange(int(6 * sr)) / sr
    notes = 220 * 2 ** (np.floor(t * 2) % 5 / 12)  # a new note every 0.5 s, no pauses
    chord = sum(np.sin(2 * np.pi * k * notes * t) / k for k in (1, 2, 3, 4))
    f.music = mediagen.write_wav(d / "jingle.wav", (0.3 * chord / np.abs(chord).max()), sr)
    speech = mediagen.decode_audio(f.speech, sr)
    f.clipped = mediagen.write_wav(d / "loud.wav", np.clip(speech * 6.0, -1, 1), sr)
    gap = np.zeros(int(4.0 * sr), np.float32)
    f.gappy = mediagen.write_wav(
        d / "pause.wav", np.concatenate([speech[: sr * 2], gap, speech[: sr * 2]]), sr
    )
    return f


@pytest.fixture
def project(team, owner):
    from studio.models import Project

    return Project.objects.create(team=team, name="Launch", created_by=owner)
