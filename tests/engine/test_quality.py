"""The quality check of a render (lipsync/quality.py): its parts, and its verdicts on a synced
render, on the same video with unrelated speech, with the speech a second late, and with a
blurred mouth."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from lipsync.engines.warp import WarpEngine
from lipsync.media.writer import VideoWriter
from lipsync.quality import (
    REVIEW_BELOW,
    QualitySettings,
    combine,
    measure_quality,
    plan_windows,
    sync_score,
    sync_score_segments,
)
from tests.engine import mediagen

SPEECH_A = (
    "Good morning everyone. Today we look at how plants turn sunlight into sugar. "
    "First the leaf catches the light, then water and air do the rest. Let us begin."
)
SPEECH_B = (
    "Seven hundred and forty two boxes arrived on Tuesday, but only nine of them were "
    "opened before lunch, because the keys were lost somewhere in the old warehouse."
)


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.convolve(rng.random(n), np.ones(3) / 3, mode="same")


# --- parts ------------------------------------------------------------------------------------


def test_pooled_windows_find_the_common_lag():
    full = _speechlike(1000)
    segments = []
    for start in (0, 300, 700):
        env = full[start + 3 : start + 103]
        mouth = full[start + 1 : start + 101].copy()  # follows the sound by 2 frames
        mouth[1::2] = np.nan  # every other frame measured
        segments.append((mouth, env))
    score, lag = sync_score_segments(segments, 25.0)
    assert score > 0.9 and lag == 2
    # The same windows against speech from elsewhere: no sync.
    other = _speechlike(1000, seed=5)
    unrelated = [(m, other[i * 100 : i * 100 + 100]) for i, (m, _) in enumerate(segments)]
    assert sync_score_segments(unrelated, 25.0)[0] < 0.35
    # One window alone gives the same answer as sync_score.
    assert sync_score_segments(segments[:1], 25.0) == sync_score(*segments[0], 25.0)


def test_windows_all_of_a_short_video_else_a_budget_at_key_frames_where_speech_is():
    settings = QualitySettings()
    activity = np.zeros(250, bool)
    budget = settings.budget(6.0)
    assert plan_windows(150, 25.0, [0, 100], activity, budget) == [(0, 150)]  # 6 s: all
    n = 90 * 25  # 90 s, a key frame every 10 s, speech from 40 s to 70 s
    activity = np.zeros(n, bool)
    activity[40 * 25 : 70 * 25] = True
    keys = list(range(0, n, 250))
    budget = settings.budget(90.0)
    assert budget == pytest.approx(settings.share * 90.0)
    windows = plan_windows(n, 25.0, keys, activity, budget, settings.window_s)
    measured = sum(end - start for start, end in windows)
    assert measured == pytest.approx(budget * 25, abs=len(windows))
    starts = [start for start, _ in windows]
    assert set(starts) <= set(keys)
    assert {40 * 25, 50 * 25, 60 * 25} <= set(starts)  # where the speech is
    ends = [end for _, end in windows]
    assert all(e <= s for e, s in zip(ends, starts[1:]))  # no overlap
    # The second step adds other windows, never the same frames again.
    extra = settings.budget(90.0, more=True) - budget
    more = plan_windows(n, 25.0, keys, activity, extra, settings.window_s, taken=windows)
    assert more and not set(s for s, _ in more) & set(starts)
    for a, b in more:
        assert all(b <= s0 or a >= e0 for s0, e0 in windows)
    # A 20-minute video is measured for a minute at most, in both steps together.
    long_n = 20 * 60 * 25
    assert settings.budget(1200.0, more=True) <= settings.more_max_s
    windows = plan_windows(
        long_n, 25.0, list(range(0, long_n, 250)), np.ones(long_n, bool), settings.budget(1200.0)
    )
    assert sum(e - s for s, e in windows) <= settings.max_measured_s * 25 + len(windows)


def test_score_scale_and_threshold():
    assert combine(0.8, 1.0, 1.0) == (100, False)
    assert combine(0.0, 1.0, 1.0) == (0, True)
    assert combine(0.8, 0.5, None) == (50, False)
    assert combine(0.8, 0.49, None)[1] is True
    # Sharpness can at most halve the score.
    assert combine(0.8, 1.0, 0.0) == (50, False)
    score, review = combine(0.35, 1.0, 1.0)
    assert score == 50 and not review and REVIEW_BELOW == 50


# --- verdicts on real renders -----------------------------------------------------------------


def _rewrite(src: Path, audio: Path, out: Path, edit=None) -> Path:
    """``src``'s pictures (changed by ``edit(image, index)``) with the sound of ``audio``."""
    writer = None
    with av.open(str(src)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            image = frame.to_ndarray(format="rgb24")
            if writer is None:
                writer = VideoWriter(out, image.shape[1], image.shape[0], 25, audio=audio)
            writer.write(edit(image, i) if edit else image)
    writer.close()
    return out


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    if not mediagen.espeak_available():
        pytest.skip("espeak-ng is not installed")
    tmp = tmp_path_factory.mktemp("quality")
    photo = mediagen.make_image(tmp / "face.png", size=(360, 400))
    speech = mediagen.make_speech_wav(tmp / "a.wav", text=SPEECH_A, seconds=10.0)
    other = mediagen.make_speech_wav(tmp / "b.wav", text=SPEECH_B, speed=190, seconds=10.0)
    wav = mediagen.decode_audio(speech)
    shifted = mediagen.write_wav(tmp / "late.wav", np.r_[np.zeros(16000), wav][: len(wav)])
    engine = WarpEngine(cache_dir=tmp / "cache")
    track = engine.prepare(photo)
    synced = Path(engine.render(speech, photo, track, tmp / "synced.mp4").path)
    lm = track.landmarks[0]
    x0, x1 = int(lm[:, 0].min()), int(lm[:, 0].max())
    y0, y1 = int(lm[29, 1]), int(lm[8, 1]) + 6

    def blur(image, _i):
        image = image.copy()
        crop = image[y0:y1, x0:x1]
        small = cv2.resize(crop, (24, max(4, 24 * crop.shape[0] // crop.shape[1])))
        image[y0:y1, x0:x1] = cv2.resize(small, (crop.shape[1], crop.shape[0]))
        return image

    return {
        "presenter": photo,
        "synced": synced,
        "unrelated": _rewrite(synced, other, tmp / "unrelated.mp4"),
        "late": _rewrite(synced, shifted, tmp / "late.mp4"),
        "blurred": _rewrite(synced, speech, tmp / "blurred.mp4", blur),
    }


def test_a_synced_render_scores_high(videos):
    q = measure_quality(videos["synced"], source=videos["presenter"])
    assert q.sync > 0.5 and q.face_share > 0.9
    assert q.sharpness is not None and q.sharpness > 0.7
    assert q.score >= 80 and not q.needs_review
    assert 0 < q.frames_measured <= q.frames_total
    json.dumps(q.to_dict())  # stored as JSON by the studio


@pytest.mark.parametrize("name", ["unrelated", "late"])
def test_unsynced_speech_scores_low(videos, name):
    q = measure_quality(videos[name], source=videos["presenter"])
    assert q.face_share > 0.9  # the face is there: it is the sync that is missing
    assert q.sync < 0.3
    assert q.score < REVIEW_BELOW and q.needs_review


def test_a_blurred_mouth_loses_sharpness_not_sync(videos):
    q = measure_quality(videos["blurred"], source=videos["presenter"])
    assert q.sync > 0.5
    assert q.sharpness is not None and q.sharpness < 0.5
    synced = measure_quality(videos["synced"], source=videos["presenter"])
    assert q.score < synced.score


def test_bench_keeps_its_names():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import lipsync_score

    for name in ("video_sync_score", "sync_score", "frame_rms", "MouthMeter", "detrend"):
        assert callable(getattr(lipsync_score, name))
