"""Fixtures of the engine tests: generated media (made once per session) and the shared clips.

Generated files live in a session temporary folder; tests that change files copy them first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine import mediagen

REPO = Path(__file__).resolve().parents[2]
SHARED_MEDIA = REPO.parent / "shared" / "media"


@pytest.fixture(scope="session")
def gen_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mediagen")


@pytest.fixture(scope="session")
def speech_wav(gen_dir) -> Path:
    """About 3 s of English speech (espeak-ng; synthetic vowels without it), 16 kHz mono."""
    return mediagen.make_speech_wav(
        gen_dir / "speech.wav", text="Hello, welcome to the studio. Look at my lips."
    )


@pytest.fixture(scope="session")
def face_clip(gen_dir) -> mediagen.GeneratedVideo:
    """A 2 s 25 fps 320x320 H.264 MP4 of the astronaut's face, no sound."""
    return mediagen.make_video(gen_dir / "face.mp4", seconds=2.0, fps=25, size=(320, 320))


@pytest.fixture(scope="session")
def face_photo(gen_dir) -> Path:
    return mediagen.make_image(gen_dir / "photo.jpg", size=(320, 400))


@pytest.fixture
def shared_media() -> Path:
    """The real sample media, or a clean skip where it is not installed."""
    if not (SHARED_MEDIA / "sun.mp4").exists() or not (SHARED_MEDIA / "eng.wav").exists():
        pytest.skip(f"shared sample media not found in {SHARED_MEDIA}")
    return SHARED_MEDIA
