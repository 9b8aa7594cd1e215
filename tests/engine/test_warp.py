"""The default ``warp`` engine: mouth poses, motion from speech, frame streaming, rendering."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from skimage import data

from lipsync.engines import RenderOptions, get_engine
from lipsync.engines.warp import WarpEngine, motion_from_features
from lipsync.errors import CancelledError, InputError
from lipsync.mouth.animate import animate_mouth
from lipsync.mouth.drive import MAX_OPEN, mouth_motion
from lipsync.mouth.pose import face_frame, inner_gap, neutralise, speech_pose
from lipsync.scheduled_frames import ScheduledFrames

from . import mediagen
from .warp_fixtures import astronaut_landmarks, landmarks_of

# ----------------------------------------------------------------------------- poses


def test_neutralise_closes_an_open_template_mouth_and_raises_the_jaw():
    lm = astronaut_landmarks()
    assert inner_gap(lm) > 0.05  # she smiles with her teeth showing
    closed = neutralise(lm)
    ff = face_frame(lm)
    assert inner_gap(closed) < 0.005
    assert (closed[8] - lm[8]) @ ff.ey < -1.0  # chin up
    assert np.allclose(closed[:4], lm[:4]) and np.allclose(closed[17:48], lm[17:48])


def test_speech_pose_opens_jaw_and_lower_lip_together_and_shapes_the_lips():
    lm = neutralise(astronaut_landmarks())
    ff = face_frame(lm)
    opened = speech_pose(lm, 0.1, 0.0)
    assert inner_gap(opened) == pytest.approx(0.1, rel=0.15)
    lip_drop = (opened[57] - lm[57]) @ ff.ey
    chin_drop = (opened[8] - lm[8]) @ ff.ey
    assert lip_drop > 0.05 * ff.height
    assert 0.6 * lip_drop < chin_drop < 1.2 * lip_drop
    assert np.all((opened[5:12] - lm[5:12]) @ ff.ey > 0)
    width = {
        s: (speech_pose(lm, 0.06, s)[54] - speech_pose(lm, 0.06, s)[48]) @ ff.ex
        for s in (-1.0, 0.0, 1.0)
    }
    assert width[-1.0] < width[0.0] < width[1.0]
    assert np.allclose(speech_pose(lm, 0.0, 0.0), lm)


# ----------------------------------------------------------------------------- motion


def test_mouth_motion_closed_in_silence_open_with_loudness_fast_attack():
    n = 60
    env = np.zeros(n, np.float32)
    env[20:40] = 0.9
    env[25:28] = 0.5
    activity = env > 0.1
    m = mouth_motion(env, np.linspace(-1, 1, n), activity)
    assert np.all(m.open[:18] == 0) and m.open[50:].max() < 0.01 * MAX_OPEN
    assert m.open[22:24].min() > 0.5 * MAX_OPEN
    assert m.open[19] > 0  # leads the sound by a frame
    rise = m.open[21] - m.open[19]  # attack faster than release
    fall = m.open[40] - m.open[42]
    assert rise > fall > 0
    assert m.open[26] < m.open[23]  # a quieter syllable opens less
    assert np.all(np.abs(m.shape) <= 1) and m.shape[:18].max() == 0


@dataclass
class _Features:
    envelope: np.ndarray
    activity: np.ndarray
    roundness: np.ndarray
    sibilance: np.ndarray


def test_motion_from_features_maps_roundness_to_rounded_lips():
    n = 50
    env = np.full(n, 0.8, np.float32)
    env[::5] = 0.3
    round_ = np.where(np.arange(n) < 25, 0.9, 0.1).astype(np.float32)
    m = motion_from_features(_Features(env, np.ones(n, bool), round_, np.zeros(n)))
    assert m.shape[10:24].mean() < -0.3 < 0.3 < m.shape[35:49].mean()


# ----------------------------------------------------------------------------- pictures


def test_animated_mouth_is_measured_closed_and_open_by_an_independent_landmarker():
    img = data.astronaut()
    lm = astronaut_landmarks()
    gaps = []
    for amount in (0.0, 0.12):
        p = animate_mouth(img, lm, amount, 0.0)
        out = img.copy()
        x0, y0, x1, y1 = p.box
        out[y0:y1, x0:x1] = p.image
        found = landmarks_of(out)
        assert found is not None
        gaps.append(inner_gap(found))
    assert gaps[0] < 0.03
    assert gaps[1] > gaps[0] + 0.05


def test_a_closed_template_gets_a_dark_interior_when_opened():
    img = data.astronaut()
    lm = astronaut_landmarks()
    # A template with closed lips: the astronaut after neutralising.
    p = animate_mouth(img, lm, 0.0, 0.0)
    closed_img = img.copy()
    x0, y0, x1, y1 = p.box
    closed_img[y0:y1, x0:x1] = p.image
    closed_lm = p.target
    q = animate_mouth(closed_img, closed_lm, 0.12, 0.0)
    inner = q.target[60:68] - (q.box[0], q.box[1])
    import cv2

    mask = np.zeros(q.image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], 1)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
    lips = np.zeros_like(mask)
    cv2.fillPoly(lips, [np.round(q.target[48:60] - (q.box[0], q.box[1])).astype(np.int32)], 1)
    lips[cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0] = 0
    lum = q.image.astype(float).mean(2)
    assert mask.sum() > 30
    # Cavity darker than the lips, with some bright teeth pixels under the upper lip.
    assert np.percentile(lum[mask > 0], 30) < 0.6 * lum[lips > 0].mean()
    assert np.percentile(lum[mask > 0], 95) > 0.8 * lum[lips > 0].mean()


# ----------------------------------------------------------------------------- streaming


@dataclass
class _F:
    index: int
    image: np.ndarray


class _CountingSource:
    def __init__(self, n: int, size: int = 16) -> None:
        self.n, self.size, self.decoded = n, size, 0

    def frames(self, start: int = 0):
        for i in range(start, self.n):
            self.decoded += 1
            yield _F(i, np.full((self.size, self.size, 3), i * 8, np.uint8))


@pytest.mark.parametrize("budget_frames", [4, 1000])
def test_scheduled_frames_follow_a_pingpong_schedule_with_bounded_memory(budget_frames):
    from lipsync.timeline import frame_schedule

    n = 30
    src = _CountingSource(n)
    schedule = frame_schedule(n, 150, "pingpong")
    frame_bytes = 16 * 16 * 3 // 2
    sf = ScheduledFrames(src.frames, schedule, 16, 16, budget_bytes=budget_frames * frame_bytes)
    got, peak = [], 0
    for image in sf:
        got.append(int(round(image[0, 0, 0] / 8)))  # cached frames pass through YUV
        peak = max(peak, len(sf._cache))
    assert got == schedule.tolist()
    assert peak <= sf.capacity
    if budget_frames >= n:
        assert src.decoded == n  # everything decoded exactly once
    else:
        assert src.decoded < 150 * n // budget_frames  # restarts, but bounded


# ----------------------------------------------------------------------------- engine


def test_default_engine_is_warp():
    assert isinstance(get_engine(), WarpEngine)
    assert get_engine("warp").needs_weights is False


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The astronaut clip (2 s) speaking ~3 s of speech: ping-pong, sound, progress."""
    tmp = tmp_path_factory.mktemp("warp")
    clip = mediagen.make_video(tmp / "face.mp4", seconds=2.0, fps=25, size=(320, 320))
    speech = mediagen.make_speech_wav(
        tmp / "speech.wav", text="Hello, welcome to the studio. Look at my lips."
    )
    engine = WarpEngine(cache_dir=tmp / "cache")
    track = engine.prepare(clip.path)
    reports = []
    result = engine.render(speech, clip.path, track, tmp / "out.mp4", progress=reports.append)
    return clip, speech, track, result, reports


def _decode(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_render_follows_the_pingpong_schedule_and_muxes_the_speech(rendered):
    from lipsync.audio import load_audio
    from lipsync.timeline import frame_schedule

    clip, speech, _track, result, reports = rendered
    dur = len(load_audio(speech)) / 16000
    assert result.frames == round(dur * 25)
    assert result.frames_without_face == 0
    assert os.path.exists(result.path)
    frames = _decode(result.path)
    assert len(frames) == result.frames
    markers = [mediagen.read_marker(f) for f in frames]
    assert markers == [i % 256 for i in frame_schedule(clip.n_frames, result.frames)]
    with av.open(result.path) as c:
        assert c.streams.audio and c.streams.audio[0].codec_context.name == "aac"
    stages = {r.stage for r in reports}
    assert {"audio", "render"} <= stages
    assert reports[-1].overall == pytest.approx(1.0)
    # No temporary files left next to the output.
    assert sorted(p.name for p in Path(result.path).parent.iterdir() if p.suffix == ".mp4") == [
        "face.mp4",
        "out.mp4",
    ]


def test_rendered_mouth_moves_with_the_speech(rendered):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from lipsync_score import MouthMeter, frame_rms, sync_score

    from lipsync.audio import load_audio

    clip, speech, track, result, _ = rendered
    frames = _decode(result.path)
    meter = MouthMeter()
    mouth = np.array([meter.measure(f) for f in frames])
    assert np.isfinite(mouth).mean() > 0.9
    env = frame_rms(load_audio(speech), 16000, 25, len(frames))
    score, _ = sync_score(mouth, env, 25)
    assert score > 0.3
    # The rest of the picture is the presenter's own: the eyes are untouched.
    src = _decode(clip.path)
    lm = track.landmarks[0]
    y0 = int(lm[17:27, 1].min()) - 5
    y1 = int(lm[36:48, 1].max()) + 5
    x0, x1 = int(lm[:, 0].min()), int(lm[:, 0].max())
    eyes = np.abs(frames[0][y0:y1, x0:x1].astype(int) - src[0][y0:y1, x0:x1]).mean()
    assert eyes < 5  # re-encoding noise only
    my0, my1 = int(lm[50, 1]) - 3, int(lm[8, 1])
    mx0, mx1 = int(lm[48, 0]) - 3, int(lm[54, 0]) + 3
    mouth_diff = max(
        np.abs(f[my0:my1, mx0:mx1].astype(int) - src[0][my0:my1, mx0:mx1]).mean()
        for f in frames[: len(src) // 2]
    )
    assert mouth_diff > 2 * eyes


def test_frames_without_a_face_pass_through(tmp_path, speech_wav):
    clip = mediagen.make_video(
        tmp_path / "noface.mp4", seconds=1.0, fps=25, size=(160, 160), face=False
    )
    engine = WarpEngine(cache_dir=tmp_path / "cache")
    from lipsync.track import FaceTrack

    n = clip.n_frames
    track = FaceTrack(
        source_hash="x",
        detector="none",
        fps=25.0,
        width=160,
        height=160,
        n_frames=n,
        boxes=np.full((n, 4), np.nan, np.float32),
        landmarks=np.full((n, 68, 2), np.nan, np.float32),
        present=np.zeros(n, bool),
        mouth_open=np.full(n, np.nan, np.float32),
    )
    r = engine.render(
        speech_wav, clip.path, track, tmp_path / "out.mp4", options=RenderOptions(duration_s=1.0)
    )
    assert r.frames_without_face == r.frames == 25 == r.stats["no_face_written"]
    assert r.untouched_ranges == ((0.0, 1.0),)
    out, src = _decode(r.path), _decode(clip.path)
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(out, src)) < 3


def test_cancel_raises_and_leaves_no_file(tmp_path, rendered):
    clip, speech, track, _, _ = rendered
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    out = tmp_path / "out.mp4"
    with pytest.raises(CancelledError):
        WarpEngine().render(speech, clip.path, track, out, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_a_track_of_another_file_is_refused(tmp_path, rendered):
    _clip, speech, track, _, _ = rendered
    other = mediagen.make_video(tmp_path / "other.mp4", seconds=1.0, fps=25, size=(320, 320))
    with pytest.raises(InputError, match="other.mp4"):
        WarpEngine().render(speech, other.path, track, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_a_still_photo_speaks(tmp_path, face_photo, speech_wav):
    engine = WarpEngine(cache_dir=tmp_path / "cache")
    track = engine.prepare(face_photo)
    assert track.n_frames == 1 and track.present[0]
    r = engine.render(
        speech_wav, face_photo, track, tmp_path / "out.mp4", options=RenderOptions(duration_s=2.0)
    )
    frames = _decode(r.path)
    assert len(frames) == r.frames == 50
    lm = track.landmarks[0]
    y0, y1 = int(lm[51, 1]) - 2, int(lm[8, 1])
    x0, x1 = int(lm[48, 0]) - 2, int(lm[54, 0]) + 2
    mouths = np.stack([f[y0:y1, x0:x1].astype(float).mean(2) for f in frames])
    # The picture is still but the mouth region changes over time.
    assert mouths.std(0).mean() > 3
    assert np.abs(frames[0][: y0 - 20].astype(int) - frames[-1][: y0 - 20]).mean() < 2


# ----------------------------------------------------------------------------- closed lips


def test_warp_keeps_pixels_of_still_triangles_exact():
    from lipsync.mouth.warp import border_anchors, mesh_triangles, region_box, warp_region

    img = data.astronaut()
    lm = astronaut_landmarks()
    ff = face_frame(lm)
    box = region_box(lm, ff.height, img.shape[:2])
    pts = np.vstack(
        [lm[np.r_[np.arange(1, 16), np.arange(29, 36), np.arange(48, 68)]], border_anchors(box)]
    )
    tris = mesh_triangles(pts)
    x0, y0, x1, y1 = box
    for step in (1, 2):
        assert (warp_region(img, box, pts, pts, tris, step=step) == img[y0:y1, x0:x1]).all()
    moved = pts.copy()
    moved[-len(border_anchors(box)) - 1] += (0.0, 2.0)  # one lip point moves
    out = warp_region(img, box, pts, moved, tris)
    changed = (out != img[y0:y1, x0:x1]).any(2)
    assert 0 < changed.sum() < 0.1 * changed.size


def test_closed_smile_has_no_teeth_between_the_lips_and_is_untouched_outside_the_mask():
    import cv2

    from lipsync.composite import Compositor

    # Smiling with teeth showing, at the face size of a 720p head-and-shoulders shot.
    s = 720 / 512
    img = cv2.resize(data.astronaut(), (720, 720), interpolation=cv2.INTER_CUBIC)
    lm = ((astronaut_landmarks() + 0.5) * s - 0.5).astype(np.float32)
    out = img.copy()
    p = animate_mouth(out, lm, 0.0, 0.0)
    comp = Compositor(extend_down=0.04, colour_match=False)
    (mx0, my0, mx1, my1), m = comp.mask(img.shape[:2], p.box, np.stack([lm, p.target]))
    comp.paste(out, p.image, p.box, np.stack([lm, p.target]))
    outside = np.ones(img.shape[:2], bool)
    outside[my0:my1, mx0:mx1] = m <= 0
    assert outside.sum() > 0.9 * outside.size
    assert (out[outside] == img[outside]).all()
    # Between the lips, around their meeting line: nothing as white as teeth (teeth are far
    # greener than red lips) is left.
    t = p.target
    lips = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(t[48:60]).astype(np.int32)], 1)
    lips = cv2.erode(lips, np.ones((3, 3), np.uint8)) > 0
    meet = np.vstack([t[48], t[60], (t[[61, 62, 63]] + t[[67, 66, 65]]) / 2, t[64], t[54]])
    near = np.zeros(img.shape[:2], np.uint8)
    cv2.polylines(
        near,
        [np.round(meet).astype(np.int32)],
        False,
        1,
        thickness=max(3, int(0.06 * face_frame(lm).height)),
    )
    sel = (near > 0) & lips
    assert sel.sum() > 100
    green = out[..., 1].astype(np.float32)
    red = out[..., 0].astype(np.float32)
    # White as teeth: much greener than the lips, and grey (green near red), which the lips'
    # own pink highlights (kept, with the repaint's grain) are not.
    teeth = (green[sel] > 1.25 * float(np.median(green[lips]))) & (green[sel] > 0.88 * red[sel])
    assert teeth.sum() <= 2, teeth.sum()


def test_a_warp_that_moves_nothing_returns_the_source_pixels():
    from lipsync.mouth.warp import border_anchors, mesh_triangles, warp_region

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (120, 140, 3), dtype=np.uint8)
    box = (20, 30, 110, 100)
    anchors = border_anchors(box)
    inner = np.array([[50, 50], [80, 55], [65, 80], [40, 75]], np.float32)
    pts = np.vstack([inner, anchors])
    tris = mesh_triangles(pts)
    still = warp_region(image, box, pts, pts.copy(), tris)
    assert np.array_equal(still, image[30:100, 20:110])
    moved = pts.copy()
    moved[2] += (0, 6)
    assert not np.array_equal(warp_region(image, box, pts, moved, tris), still)


def test_a_mesh_is_reused_while_it_fits_and_rebuilt_when_a_triangle_flips():
    from lipsync.mouth.warp import (
        border_anchors,
        mesh_still_fits,
        mesh_triangles,
        triangle_quality,
    )

    box = (20, 30, 110, 100)
    inner = np.array([[50, 50], [80, 55], [65, 80], [40, 75]], np.float32)
    pts = np.vstack([inner, border_anchors(box)])
    tris = mesh_triangles(pts)
    ref = triangle_quality(pts, tris)
    assert (ref > 0).all()  # every triangle counter-clockwise
    nudged = pts.copy()
    nudged[:4] += (1.0, 1.5)  # the face moves a little between frames
    assert mesh_still_fits(nudged, tris, ref)
    flipped = pts.copy()
    flipped[2] = (65, 40)  # a lip point crosses its neighbours: triangles turn over
    assert not mesh_still_fits(flipped, tris, ref)
    assert (triangle_quality(flipped, mesh_triangles(flipped)) > 0).all()
