"""Face-track records: file round trip, content hashing and the prepare cache."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from lipsync.faces import get_detector
from lipsync.track import (
    FaceTrack,
    TrackCache,
    TrackFormatError,
    content_hash,
    load_track,
    prepare_track,
    save_track,
    stored_precision,
)

from .facegen import CountingDetector, moving_face, write_clip


def make_track(n: int = 12, width: int = 3840, height: int = 2160) -> FaceTrack:
    rng = np.random.default_rng(1)
    lm = (rng.uniform(0, 1, (n, 68, 2)) * [600, 700] + [3000, 1300]).astype(np.float32)
    present = np.ones(n, bool)
    present[[3, 4]] = False
    boxes = np.concatenate([lm.min(axis=1), lm.max(axis=1)], axis=1)
    lm[~present] = np.nan
    boxes[~present] = np.nan
    return FaceTrack(
        source_hash="ab" * 32,
        detector="dlib-hog-68/1",
        fps=29.97,
        width=width,
        height=height,
        n_frames=n,
        boxes=boxes.astype(np.float32),
        landmarks=lm,
        present=present,
        mouth_open=np.where(present, rng.uniform(0, 0.2, n), np.nan).astype(np.float32),
        cuts=np.array([7], np.int32),
    )


def test_round_trip_keeps_everything_within_a_fraction_of_a_pixel(tmp_path):
    track = make_track()
    path = tmp_path / "t.npz"
    save_track(track, path)
    back = load_track(path)
    assert (back.source_hash, back.detector, back.fps, back.width, back.height, back.n_frames) == (
        track.source_hash,
        track.detector,
        track.fps,
        track.width,
        track.height,
        track.n_frames,
    )
    assert np.array_equal(back.present, track.present) and list(back.cuts) == [7]
    assert np.array_equal(back.boxes, track.boxes, equal_nan=True)
    # a 4K close-up: landmarks far from the origin come back within 1/1000 of the face size
    assert np.nanmax(np.abs(back.landmarks - track.landmarks)) < 0.7
    assert back == stored_precision(track) and back != track
    assert np.isnan(back.landmarks[3:5]).all()
    assert np.nanmax(np.abs(back.mouth_open - track.mouth_open)) < 1e-3
    assert back.frames_without_face == 2
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]  # no temporary file left


def test_unreadable_files_raise_a_track_format_error(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(TrackFormatError, match="bad.npz"):
        load_track(bad)
    good = tmp_path / "good.npz"
    save_track(make_track(), good)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(TrackFormatError):
        load_track(cut)


def test_content_hash_is_sha256_of_the_bytes(tmp_path):
    blob = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)  # spans several chunks
    a = tmp_path / "a.bin"
    a.write_bytes(blob)
    assert content_hash(a) == hashlib.sha256(blob).hexdigest()


def test_cache_keys_differ_by_detector_and_pick(tmp_path):
    cache = TrackCache(tmp_path)
    h = "cd" * 32
    paths = {
        cache.path_for(h, "dlib-hog-68/1"),
        cache.path_for(h, "dlib-hog-68/2"),
        cache.path_for(h, "dlib-hog-68/1", pick=1),
        cache.path_for(h, "dlib-hog-68/1", (5, 6)),
    }
    assert len(paths) == 4
    assert all(p.is_relative_to(tmp_path) for p in paths)
    assert cache.get(h, "dlib-hog-68/1") is None


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    frames, _ = moving_face(n=20, width=480, height=320)
    return write_clip(tmp_path_factory.mktemp("media") / "presenter.mp4", frames)


def test_second_prepare_of_a_copy_is_served_from_the_cache(clip, tmp_path):
    cache = TrackCache(tmp_path / "cache")
    first_detector = CountingDetector(get_detector())
    first = prepare_track(clip, detector=first_detector, cache=cache)
    assert first_detector.detect_calls > 0 and first.present.all()
    assert first.source_hash == content_hash(clip)

    copy = tmp_path / "renamed copy.mp4"
    shutil.copy(clip, copy)
    again = CountingDetector(get_detector())
    reports = []
    second = prepare_track(copy, detector=again, cache=cache, progress=reports.append)
    assert again.detect_calls == 0 and again.landmark_calls == 0
    assert reports[-1].fraction == 1.0
    assert second.n_frames == first.n_frames == 20
    assert second == first

    # another pick is another track: it is computed, not taken from the cache
    other = CountingDetector(get_detector())
    prepare_track(copy, detector=other, cache=cache, pick=0)
    assert other.detect_calls > 0


def test_corrupt_cache_file_is_ignored_and_rebuilt(clip, tmp_path):
    cache = TrackCache(tmp_path)
    det = CountingDetector(get_detector())
    first = prepare_track(clip, detector=det, cache=cache)
    path = cache.path_for(first.source_hash, det.version)
    path.write_bytes(b"garbage")
    rebuilt_by = CountingDetector(get_detector())
    rebuilt = prepare_track(clip, detector=rebuilt_by, cache=str(tmp_path))
    assert rebuilt_by.detect_calls > 0
    assert rebuilt == first
    assert load_track(path) == first  # the rewritten file reads back


def test_prepare_without_cache_tracks_every_time(clip):
    det = CountingDetector(get_detector())
    prepare_track(clip, detector=det)
    calls = det.detect_calls
    prepare_track(clip, detector=det)
    assert calls > 0 and det.detect_calls == 2 * calls
