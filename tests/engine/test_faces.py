"""Face detection, tracking, identity keeping and smoothing on generated and real footage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import data

from lipsync.errors import CancelledError, InputError, NoFaceError
from lipsync.faces import get_detector, track_faces
from lipsync.faces.detector import FaceDetector, available_detectors
from lipsync.faces.smoothing import segments, smooth_landmarks, zero_phase_lowpass

from .facegen import (
    CountingDetector,
    MemorySource,
    background,
    face_crop,
    moving_face,
    paste,
    write_clip,
)

REPO = Path(__file__).resolve().parents[2]
SUN = REPO.parent / "shared" / "media" / "sun.mp4"


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return get_detector("dlib")


def centers(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, :2] + boxes[:, 2:]) / 2.0


# --- detector ------------------------------------------------------------------------------


def test_registry_returns_one_shared_dlib_detector(detector):
    assert "dlib" in available_detectors()
    assert get_detector() is detector
    assert detector.version and detector.name == "dlib"
    with pytest.raises(ValueError, match="unknown face detector"):
        get_detector("no-such-backend")


def test_detects_astronaut_face_with_plausible_landmarks(detector):
    image = data.astronaut()
    found = detector.detect(image)
    assert len(found) == 1
    x0, y0, x1, y1 = found[0].box
    assert 150 < x0 < x1 < 300 and 60 < y0 < y1 < 200
    lm = detector.landmarks(image, found[0].box)
    assert lm.shape == (68, 2) and lm.dtype == np.float32
    margin = 0.15 * (x1 - x0)
    assert np.all((lm[:, 0] > x0 - margin) & (lm[:, 0] < x1 + margin))
    assert np.all((lm[:, 1] > y0 - margin) & (lm[:, 1] < y1 + margin))
    nose_tip_y = lm[33, 1]
    assert np.all(lm[48:68, 1] > nose_tip_y)
    assert lm[8, 1] > lm[57, 1]  # chin below the lower lip
    assert lm[36, 0] < lm[45, 0]  # outer eye corners: image-left point first


def test_no_face_in_a_plain_background(detector):
    assert detector.detect(background(320, 240)) == []


# --- tracking ------------------------------------------------------------------------------


def test_box_follows_a_moving_face(detector):
    frames, truth = moving_face(n=40)
    counting = CountingDetector(detector)
    track = track_faces(MemorySource(frames), counting)
    assert track.n_frames == 40 and track.present.all()
    moved = centers(track.boxes) - centers(track.boxes)[:1]
    true_moved = centers(truth) - centers(truth)[:1]
    assert np.abs(moved - true_moved).max() < 3.0
    # landmarks lie on the face, and the detector ran on few frames only
    face_side = truth[0, 2] - truth[0, 0]
    assert np.all(np.abs(centers(track.boxes) - centers(truth)) < 0.25 * face_side)
    assert counting.detect_calls <= 40 // 4
    assert np.isfinite(track.mouth_open).all() and np.all(track.mouth_open >= 0)


def two_faces(n: int = 30, width: int = 720, height: int = 400):
    """A big face left of centre drifting right, a small mirrored one on the right drifting left."""
    big, small = face_crop(1.3), face_crop(0.95, flip=True)
    bg = background(width, height, seed=3)
    frames = []
    for i in range(n):
        canvas = paste(bg, big, 150 + 2 * i, 60 + i)
        frames.append(paste(canvas, small, 470 - 2 * i, 150 - i))
    return frames


def test_two_faces_default_is_the_largest_and_it_is_kept(detector):
    track = track_faces(MemorySource(two_faces()), detector)
    assert track.present.all()
    c = centers(track.boxes)
    width = track.boxes[:, 2] - track.boxes[:, 0]
    assert np.all(c[:, 0] < 360) and width.min() > 100
    assert np.allclose(np.diff(c[:, 0]), 2.0, atol=1.5)  # follows the big face's drift


def test_pick_by_point_and_by_index_selects_the_other_face(detector):
    frames = two_faces()
    by_point = track_faces(MemorySource(frames), detector, pick=(560, 240))
    assert by_point.present.all()
    c = centers(by_point.boxes)
    assert np.all(c[:, 0] > 480)
    assert np.allclose(np.diff(c[:, 0]), -2.0, atol=1.5)
    by_index = track_faces(MemorySource(frames), detector, pick=1)  # left to right
    assert np.allclose(centers(by_index.boxes), c, atol=1.0)
    # The message counts faces from 1, as people (and the CLI's --face) do: index 2 is face 3.
    with pytest.raises(InputError, match="memory.mp4: face 3 was picked but .* has 2"):
        track_faces(MemorySource(frames), detector, pick=2)
    with pytest.raises(ValueError, match="pick must be"):
        track_faces(MemorySource(frames), detector, pick=(1, 2, 3))


def test_frames_without_a_face_are_counted_and_the_face_is_found_again(detector):
    frames, truth = moving_face(n=45)
    bg = background(640, 360)
    frames[12:23] = [bg] * 11
    track = track_faces(MemorySource(frames), detector)
    expected = np.ones(45, dtype=bool)
    expected[12:23] = False
    assert np.array_equal(track.present, expected)
    assert track.frames_without_face == 11
    assert np.isnan(track.boxes[12:23]).all() and np.isnan(track.landmarks[12:23]).all()
    assert np.isnan(track.mouth_open[12:23]).all()
    assert np.abs(centers(track.boxes[23:]) - centers(truth[23:])).max() < 12


def test_scene_cut_restarts_the_track_without_smoothing_across(detector):
    crop = face_crop(1.2)
    first = background(640, 360, seed=1)
    second = background(640, 360, seed=7)[::-1].copy()
    frames = [paste(first, crop, 60, 40)] * 15 + [paste(second, crop, 380, 120)] * 15
    track = track_faces(MemorySource(frames), detector)
    assert list(track.cuts) == [15]
    c = centers(track.boxes)
    assert np.ptp(c[:15], axis=0).max() < 1.0 and np.ptp(c[15:], axis=0).max() < 1.0
    assert np.allclose(c[15] - c[14], (320, 80), atol=2.0)


def test_faceless_clip_raises_no_face_error(detector, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", [background(320, 240, seed=i % 3) for i in range(10)])
    with pytest.raises(
        NoFaceError, match=r"^clip\.mp4: no face found in any frame — use a video or photo"
    ):
        track_faces(clip, detector)


def test_progress_and_cancel(detector):
    frames, _ = moving_face(n=60)
    reports = []
    track_faces(MemorySource(frames), detector, progress=reports.append)
    assert reports and all(r.stage == "prepare" for r in reports)
    assert reports[-1].fraction == 1.0 and reports[-1].frames_done == 60
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(CancelledError):
        track_faces(MemorySource(frames), detector, cancel=cancel)
    assert len(calls) == 2


@pytest.mark.skipif(not SUN.is_file(), reason="shared media not present")
def test_real_presenter_clip(detector):
    track = track_faces(SUN, detector)
    assert track.n_frames == 550 and track.fps == 25.0
    assert track.frames_without_face == 0 and len(track.cuts) == 0
    side = track.boxes[:, 2] - track.boxes[:, 0]
    assert 80 < np.median(side) < 200
    # a steady presenter: box moves little frame to frame once smoothed
    assert np.abs(np.diff(centers(track.boxes), axis=0)).max() < 6
    assert 0.02 < np.median(track.mouth_open) < 0.2  # mouth open in a smile


# --- smoothing -----------------------------------------------------------------------------


def test_segments_split_at_gaps_and_cuts():
    present = np.array([1, 1, 1, 0, 0, 1, 1, 1, 1, 1], dtype=bool)
    assert segments(present) == [(0, 3), (5, 10)]
    assert segments(present, cuts=[7]) == [(0, 3), (5, 7), (7, 10)]


def test_smoothing_removes_jitter():
    fps, n = 25.0, 250
    t = np.arange(n) / fps
    truth = 200 + 30 * np.sin(2 * np.pi * 0.4 * t)
    noisy = truth + np.random.default_rng(0).normal(0, 1.5, n)
    smooth = zero_phase_lowpass(noisy, fps, 4.0)
    err_before = np.sqrt(np.mean((noisy - truth) ** 2))
    err_after = np.sqrt(np.mean((smooth - truth)[10:-10] ** 2))
    assert err_after < 0.6 * err_before
    jitter = lambda x: np.sqrt(np.mean(np.diff(x, 2) ** 2))  # noqa: E731
    assert jitter(smooth) < 0.2 * jitter(noisy)


@pytest.mark.parametrize("cutoff", [4.0, 8.0])
def test_smoothing_adds_no_lag_to_a_step(cutoff):
    fps = 25.0
    step = np.r_[np.zeros(40), np.full(40, 10.0)]
    out = zero_phase_lowpass(step, fps, cutoff)
    half = int(np.argmax(out >= 5.0))
    assert abs(half - 40) <= 1
    assert out[44] > 9.0 and out[35] < 1.0  # settles within a few frames either side


def test_smooth_landmarks_keeps_gaps_and_does_not_blend_across_cuts():
    n = 30
    lm = np.zeros((n, 68, 2), np.float32)
    lm[15:] = 100.0
    present = np.ones(n, bool)
    present[5] = False
    lm[5] = np.nan
    out = smooth_landmarks(lm, present, 25.0, cuts=[15])
    assert np.isnan(out[5]).all()
    assert np.allclose(out[6:15], 0.0, atol=1e-4) and np.allclose(out[15:], 100.0, atol=1e-3)


def test_picked_face_hidden_for_a_while_is_not_swapped_for_the_other(detector):
    big, small = face_crop(1.3), face_crop(0.95, flip=True)
    bg = background(720, 400, seed=3)
    frames = []
    for i in range(40):
        canvas = paste(bg, small, 520, 150)
        frames.append(canvas if 10 <= i < 20 else paste(canvas, big, 60 + i, 60))
    track = track_faces(MemorySource(frames), detector)
    hidden = np.zeros(40, bool)
    hidden[10:20] = True
    assert np.array_equal(track.present, ~hidden)
    assert np.all(centers(track.boxes)[~hidden, 0] < 300)


def test_small_face_in_a_large_frame_is_found_by_the_deeper_passes(detector):
    crop = face_crop(0.62)  # a face of about 55 px in a 1280x720 frame
    bg = background(1280, 720, seed=5)
    frames = [paste(bg, crop, 700 + 3 * i, 400) for i in range(20)]
    track = track_faces(MemorySource(frames), detector)
    assert track.present.all()
    side = track.boxes[:, 2] - track.boxes[:, 0]
    assert 40 < np.median(side) < 80
    assert np.allclose(np.diff(centers(track.boxes)[:, 0]), 3.0, atol=1.0)


def test_small_face_is_found_again_soon_after_a_gap(detector):
    crop = face_crop(0.62)
    bg = background(1280, 720, seed=5)
    frames = [paste(bg, crop, 700 + 3 * i, 400) for i in range(30)]
    frames[8:14] = [bg] * 6
    track = track_faces(MemorySource(frames), detector)
    expected = np.ones(30, bool)
    expected[8:14] = False
    assert np.array_equal(track.present, expected)


def test_still_image_is_a_one_frame_track(detector, tmp_path):
    from PIL import Image

    still = tmp_path / "portrait.png"
    Image.fromarray(data.astronaut()).save(still)
    track = track_faces(still, detector)
    assert track.n_frames == 1 and track.present.all()
    assert track.width == 512 and track.height == 512
    assert 170 < track.boxes[0, 0] < track.boxes[0, 2] < 280


def test_mouth_opening_is_inner_lip_gap_over_face_height():
    from lipsync.faces.tracker import mouth_opening

    lm = np.zeros((2, 68, 2), np.float32)
    lm[:, 27] = (50, 0)
    lm[:, 8] = (50, 100)  # face height 100
    lm[:, [61, 62, 63], 1] = 60
    lm[0, [67, 66, 65], 1] = 60  # closed
    lm[1, [67, 66, 65], 1] = 72  # 12 px apart
    assert np.allclose(mouth_opening(lm), [0.0, 0.12])
