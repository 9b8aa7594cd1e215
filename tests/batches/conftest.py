"""Fixtures of the batch tests: small generated media, library rows, helpers.

Test media is short and small (2 s at 320x240) so a render takes about a second on a CPU;
the 40 s 'long' audio gives cancel and kill tests a render that lasts a few seconds.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.engine.mediagen import make_speech_wav, make_text_file, make_video


@pytest.fixture(scope="session")
def clip_files(tmp_path_factory) -> SimpleNamespace:
    """Generated once per session: two presenter clips, a speech WAV, a broken 'video'."""
    root = tmp_path_factory.mktemp("batch-media")
    make_video(root / "anna.mp4", seconds=1.6, size=(320, 240), seed=1)
    make_video(root / "bo.mp4", seconds=1.2, size=(320, 240), seed=2)
    make_video(root / "long.mp4", seconds=2.0, size=(320, 240), seed=3)
    make_speech_wav(root / "hello.wav", text="Hello and welcome.", seconds=1.5)
    make_speech_wav(
        root / "long.wav",
        text="Welcome to the studio. This is a longer message so that the render takes a while.",
        seconds=40.0,
    )
    make_text_file(root / "broken.mp4")
    return SimpleNamespace(
        root=root,
        anna=root / "anna.mp4",
        bo=root / "bo.mp4",
        long_clip=root / "long.mp4",
        hello=root / "hello.wav",
        long_wav=root / "long.wav",
        broken=root / "broken.mp4",
    )


@pytest.fixture
def library(media_root, team, member, clip_files):
    """A project with audio tracks and presenters (rows + files in MEDIA_ROOT), all ready."""
    from studio.models import AudioTrack, MediaStatus, Presenter, Project

    def put(src: Path, folder: str) -> str:
        rel = f"{folder}/{team.pk}/{src.name}"
        dest = Path(media_root) / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest)
        return rel

    project = Project.objects.create(team=team, name="Launch", created_by=member)

    def audio(name: str, src: Path, duration: float) -> AudioTrack:
        return AudioTrack.objects.create(
            project=project,
            name=name,
            file=put(src, "audio"),
            original_filename=src.name,
            size_bytes=src.stat().st_size,
            duration_s=duration,
            status=MediaStatus.READY,
            created_by=member,
        )

    def presenter(name: str, src: Path, duration: float) -> Presenter:
        return Presenter.objects.create(
            team=team,
            name=name,
            file=put(src, "presenters"),
            original_filename=src.name,
            size_bytes=src.stat().st_size,
            duration_s=duration,
            width=320,
            height=240,
            fps=25.0,
            status=MediaStatus.READY,
            created_by=member,
        )

    return SimpleNamespace(
        project=project,
        hello=audio("问候 Hello", clip_files.hello, 1.5),
        long_audio=audio("Long talk", clip_files.long_wav, 40.0),
        anna=presenter("安娜 Anna", clip_files.anna, 1.6),
        bo=presenter("Bo", clip_files.bo, 1.2),
        long_presenter=presenter("Long", clip_files.long_clip, 2.0),
        broken=presenter("Broken", clip_files.broken, 2.0),
        put=put,
        audio=audio,
        presenter=presenter,
    )
