"""probe(): containers, audio formats, images, rotation, VFR and bad input, by content."""

from __future__ import annotations

import json
import shutil

import pytest

from lipsync.errors import TruncatedMediaError, UnsupportedMediaError
from lipsync.media import probe
from tests.engine import mediagen


@pytest.mark.parametrize(
    "container,vcodec,acodec",
    [
        ("mp4", "h264", "aac"),
        ("mov", "h264", "aac"),
        ("mkv", "h264", "aac"),
        ("avi", "mpeg4", "mp3"),
        ("webm", "vp8", "opus"),
    ],
)
def test_probe_video_containers(tmp_path, container, vcodec, acodec):
    speech = mediagen.synth_speech(1.5)
    clip = mediagen.make_video(
        tmp_path / f"clip.{container}", seconds=1.0, fps=25, size=(160, 120), audio=speech
    )
    info = probe(clip.path)
    assert info.container == ("matroska" if container == "mkv" else container)
    assert (info.video_codec, info.audio_codec) == (vcodec, acodec)
    assert info.has_video and info.has_audio and not info.is_image
    assert (info.width, info.height, info.rotation) == (160, 120, 0)
    assert info.fps == pytest.approx(25.0)
    assert not info.vfr
    assert info.duration_s == pytest.approx(1.5, abs=0.15)  # the longer (audio) stream
    assert info.sample_rate > 0 and info.channels == 1
    kinds = sorted(s.kind for s in info.streams)
    assert kinds == ["audio", "video"]


@pytest.mark.parametrize(
    "fmt,codec,container",
    [
        ("wav", "pcm_s16le", "wav"),
        ("mp3", "mp3", "mp3"),
        ("m4a", "aac", "m4a"),
        ("flac", "flac", "flac"),
        ("ogg", "opus", "ogg"),
        ("opus", "opus", "ogg"),
    ],
)
def test_probe_audio_formats(tmp_path, fmt, codec, container):
    path = mediagen.make_audio(tmp_path / f"voice.{fmt}", seconds=2.0)
    info = probe(path)
    assert (info.container, info.audio_codec) == (container, codec)
    assert info.has_audio and not info.has_video
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert info.channels == 1 and info.sample_rate in (16000, 48000)


@pytest.mark.parametrize("fmt,container", [("jpg", "jpeg"), ("png", "png"), ("webp", "webp")])
def test_probe_images(tmp_path, fmt, container):
    path = mediagen.make_image(tmp_path / f"photo.{fmt}", size=(200, 260))
    info = probe(path)
    assert info.is_image and info.has_video and not info.has_audio
    assert info.container == container
    assert (info.width, info.height) == (200, 260)
    assert info.duration_s == 0.0


def test_probe_judges_content_not_extension(tmp_path):
    clip = mediagen.make_video(tmp_path / "real.webm", seconds=0.4, size=(64, 48))
    disguised = tmp_path / "disguised.mp3"
    shutil.copy(clip.path, disguised)
    info = probe(disguised)
    assert info.container == "webm" and info.video_codec == "vp8" and not info.has_audio
    photo = mediagen.make_image(tmp_path / "p.png")
    renamed = tmp_path / "photo.mp4"
    shutil.copy(photo, renamed)
    assert probe(renamed).is_image


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_probe_rotation_swaps_display_size(tmp_path, rotation):
    clip = mediagen.make_video(
        tmp_path / "phone.mp4", seconds=0.3, size=(160, 96), rotation=rotation
    )
    info = probe(clip.path)
    assert info.rotation == rotation
    assert (info.width, info.height) == (160, 96)
    stored = (96, 160) if rotation in (90, 270) else (160, 96)
    assert (info.coded_width, info.coded_height) == stored


@pytest.mark.parametrize("container", ["mkv", "mp4"])
def test_probe_detects_variable_frame_rate(tmp_path, container):
    vfr = mediagen.make_video(
        tmp_path / f"vfr.{container}", seconds=2.0, vfr=True, size=(96, 64), face=False
    )
    cfr = mediagen.make_video(tmp_path / f"cfr.{container}", seconds=2.0, size=(96, 64), face=False)
    assert probe(vfr.path).vfr
    assert not probe(cfr.path).vfr


def test_one_dropped_frame_is_not_vfr(tmp_path):
    times = [i / 25 for i in range(50) if i != 20]
    clip = mediagen.make_video(tmp_path / "drop.mp4", frame_times=times, size=(96, 64), face=False)
    assert not probe(clip.path).vfr


def test_unknown_codec_is_named(tmp_path):
    path = mediagen.make_unknown_codec_avi(tmp_path / "presenter.avi")
    with pytest.raises(UnsupportedMediaError) as err:
        probe(path)
    assert str(err.value) == (
        "presenter.avi: unsupported video codec 'xyz' — export it again as MP4 (H.264 video, "
        "AAC audio), or as a JPEG or PNG picture"
    )


@pytest.mark.parametrize(
    "name,maker",
    [
        ("notes.txt", mediagen.make_text_file),
        ("notes.mp4", mediagen.make_text_file),
        ("noise.wav", lambda p: p.write_bytes(bytes(range(256)) * 64)),
    ],
)
def test_not_media(tmp_path, name, maker):
    path = tmp_path / name
    maker(path)
    with pytest.raises(UnsupportedMediaError) as err:
        probe(path)
    assert str(err.value).startswith(
        f"{name}: not a media file (could not read a video, audio or image stream) — export it "
    )


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(
        UnsupportedMediaError, match=r"^gone\.mp4: file does not exist — check the name"
    ):
        probe(tmp_path / "gone.mp4")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(
        UnsupportedMediaError, match=r"^empty\.wav: file is empty — upload the file again"
    ):
        probe(tmp_path / "empty.wav")


def test_mp4_cut_before_its_index_is_truncated(tmp_path):
    clip = mediagen.make_video(tmp_path / "full.mp4", seconds=1.0, size=(96, 64), faststart=False)
    cut = mediagen.truncate(clip.path, tmp_path / "clip.mp4", 0.5)
    with pytest.raises(TruncatedMediaError) as err:
        probe(cut)
    assert str(err.value).startswith(
        "clip.mp4: file is truncated or damaged (its index cannot be read) — upload the complete "
    )


def test_shared_sample(shared_media):
    info = probe(shared_media / "sun.mp4")
    assert (info.width, info.height, info.fps, info.has_audio) == (576, 768, 25.0, False)
    assert not info.vfr
    assert info.duration_s == pytest.approx(22.0, abs=0.1)
    speech = probe(shared_media / "eng.wav")
    assert (speech.sample_rate, speech.channels) == (16000, 1)


def test_media_info_is_json_serialisable(face_clip):
    data = json.loads(json.dumps(probe(face_clip.path).to_dict()))
    assert data["width"] == 320 and data["streams"][0]["kind"] == "video"
