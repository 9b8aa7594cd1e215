"""open_video(): streaming constant-rate frames, rotation, VFR, stills, truncation."""

from __future__ import annotations

import numpy as np
import pytest

from lipsync.errors import NoVideoStreamError, TruncatedMediaError
from lipsync.media import open_video
from tests.engine import mediagen


def markers(source, **kw):
    return [mediagen.read_marker(f.image) for f in source.frames(**kw)]


@pytest.mark.parametrize("container", ["mp4", "mov", "mkv", "avi", "webm"])
def test_every_container_decodes_every_frame_in_order(tmp_path, container):
    clip = mediagen.make_video(tmp_path / f"c.{container}", seconds=1.0, size=(160, 120))
    with open_video(clip.path) as src:
        assert (src.width, src.height, src.fps, src.frame_count) == (160, 120, 25.0, 25)
        frames = list(src)
    assert [f.index for f in frames] == list(range(25))
    assert [mediagen.read_marker(f.image) for f in frames] == list(range(25))
    assert frames[3].time_s == pytest.approx(0.12)
    image = frames[0].image
    assert image.shape == (120, 160, 3) and image.dtype == np.uint8


def test_pixels_survive_decoding(tmp_path):
    clip = mediagen.make_video(tmp_path / "c.mp4", seconds=0.2, size=(160, 120))
    first = next(open_video(clip.path).frames()).image.astype(int)
    expected = mediagen.presenter_frame(0, 160, 120).astype(int)
    assert np.abs(first - expected).mean() < 6


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_is_applied(tmp_path, rotation):
    clip = mediagen.make_video(
        tmp_path / "phone.mp4", seconds=0.4, size=(160, 96), rotation=rotation
    )
    src = open_video(clip.path)
    assert (src.width, src.height) == (160, 96)
    frames = list(src)
    assert all(f.image.shape == (96, 160, 3) for f in frames)
    # The marker reads right only when the picture is upright again.
    assert [mediagen.read_marker(f.image) for f in frames] == list(range(10))
    expected = mediagen.presenter_frame(0, 160, 96).astype(int)
    assert np.abs(frames[0].image.astype(int) - expected).mean() < 8


def expected_vfr_markers(times, fps, n):
    times = np.asarray(times)
    return [int(np.searchsorted(times, i / fps + 1e-3, side="right") - 1) for i in range(n)]


@pytest.mark.parametrize("container", ["mkv", "mp4"])
def test_variable_frame_rate_becomes_constant(tmp_path, container):
    clip = mediagen.make_video(
        tmp_path / f"vfr.{container}",
        seconds=2.0,
        fps=25,
        vfr=True,
        size=(96, 64),
        face=False,
        seed=3,
    )
    src = open_video(clip.path, fps=25)
    assert src.fps == 25.0
    assert src.frame_count == round(clip.duration_s * 25)
    got = markers(src)
    assert len(got) == src.frame_count
    assert got == expected_vfr_markers(clip.frame_times, 25, len(got))
    # Some source frames are shown twice and some dropped: the mapping really is by time.
    assert len(set(got)) < len(got) and max(got) == clip.n_frames - 1
    assert set(range(clip.n_frames)) - set(got)


def test_vfr_default_rate_is_a_sensible_constant(tmp_path):
    clip = mediagen.make_video(
        tmp_path / "vfr.mkv", seconds=2.0, fps=30, vfr=True, size=(96, 64), face=False, seed=5
    )
    src = open_video(clip.path)
    assert src.info.vfr
    assert src.fps == float(round(src.fps)) or src.fps in (30000 / 1001, 24000 / 1001)
    assert abs(src.fps - clip.n_frames / clip.duration_s) <= 0.05 * src.fps + 1
    got = markers(src)
    assert len(got) == src.frame_count
    assert got == expected_vfr_markers(clip.frame_times, src.fps, len(got))


def test_resampling_to_another_rate(tmp_path):
    clip = mediagen.make_video(tmp_path / "c.mp4", seconds=1.0, fps=25, size=(96, 64), face=False)
    got = markers(open_video(clip.path, fps=50))
    assert got == [i // 2 for i in range(50)]
    got = markers(open_video(clip.path, fps=12.5))
    assert got == list(range(0, 25, 2))


def test_frames_start(tmp_path):
    clip = mediagen.make_video(tmp_path / "c.mp4", seconds=1.0, size=(96, 64), face=False)
    src = open_video(clip.path)
    tail = list(src.frames(start=20))
    assert [f.index for f in tail] == [20, 21, 22, 23, 24]
    assert [mediagen.read_marker(f.image) for f in tail] == [20, 21, 22, 23, 24]
    assert len(list(src.frames())) == 25  # iterating again starts over


def test_duplicates_are_independent_arrays(tmp_path):
    clip = mediagen.make_video(tmp_path / "c.mp4", seconds=0.2, size=(96, 64), face=False)
    a, b = list(open_video(clip.path, fps=50).frames())[:2]
    a.image[:] = 0
    assert b.image.any()


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp"])
def test_still_image_is_a_one_frame_source(tmp_path, fmt):
    path = mediagen.make_image(tmp_path / f"photo.{fmt}", size=(200, 260))
    src = open_video(path)
    assert (src.is_image, src.fps, src.frame_count, src.width, src.height) == (
        True,
        25.0,
        1,
        200,
        260,
    )
    frames = list(src)
    assert len(frames) == 1 and frames[0].image.shape == (260, 200, 3)
    assert mediagen.read_marker(frames[0].image) == 0


def test_audio_only_file_is_not_a_presenter(tmp_path):
    path = mediagen.make_audio(tmp_path / "voice.m4a", seconds=1.0)
    with pytest.raises(
        NoVideoStreamError, match=r"^voice\.m4a: no video stream or image — choose a video "
    ):
        open_video(path)


@pytest.mark.parametrize("container", ["mp4", "mkv", "avi"])
def test_truncated_file(tmp_path, container):
    full = mediagen.make_video(tmp_path / f"full.{container}", seconds=4.0, size=(160, 120))
    cut = mediagen.truncate(full.path, tmp_path / f"clip.{container}", 0.5)
    src = open_video(cut)
    with pytest.raises(TruncatedMediaError) as err:
        for _ in src:
            pass
    message = str(err.value)
    assert message.startswith(f"clip.{container}: file is truncated at ")
    seconds = float(err.value.reason.rsplit(" ", 2)[-2])
    assert 1.0 < seconds < 3.0


def test_shared_sample_streams(shared_media):
    src = open_video(shared_media / "sun.mp4")
    assert (src.width, src.height, src.fps, src.frame_count) == (576, 768, 25.0, 550)
    for frame in src.frames(start=540):
        assert frame.image.shape == (768, 576, 3)
    assert frame.index == 549


def test_close_ends_unfinished_iterations(tmp_path):
    clip = mediagen.make_video(tmp_path / "c.mp4", seconds=1.0, size=(96, 64), face=False)
    with open_video(clip.path) as src:
        frames = src.frames()
        next(frames)
    assert list(frames) == []  # closed with the source: nothing more comes
