"""The render steps every engine shares (:class:`lipsync.engines.streaming.StreamingEngine`),
checked with an engine of its own that passes frames through or fails on purpose."""

from __future__ import annotations

import numpy as np
import pytest

from lipsync.engines import RenderOptions
from lipsync.engines.streaming import FramePass, RenderJob, StreamingEngine
from lipsync.errors import InputError
from lipsync.media import open_video, probe
from lipsync.timeline import frame_schedule
from lipsync.track import FaceTrack

from . import mediagen


class _Boom(RuntimeError):
    pass


class _Pass(FramePass):
    """Writes frames unchanged; frames whose source index is odd count as faceless."""

    def __init__(self, job: RenderJob, fail_at: int | None) -> None:
        self.job, self.fail_at, self.written = job, fail_at, 0

    def run(self, items, writer, tracker) -> int:
        no_face = 0
        for t, (k, image) in enumerate(zip(self.job.schedule.tolist(), items)):
            if t == self.fail_at:
                raise _Boom("frame pass failed")
            no_face += k % 2
            writer.write(image)
            self.written += 1
            tracker.advance()
        return no_face

    def stats(self) -> dict:
        return {"written": self.written, "samples": len(self.job.wav)}

    def face_frames(self) -> np.ndarray:
        return np.arange(self.job.track.n_frames) % 2 == 0


class _PassEngine(StreamingEngine):
    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__(device="cpu")
        self.fail_at = fail_at
        self.ready_calls = 0

    def _ready(self) -> None:
        self.ready_calls += 1

    def _frame_pass(self, job: RenderJob) -> FramePass:
        return _Pass(job, self.fail_at)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    root = tmp_path_factory.mktemp("streaming")
    video = mediagen.make_video(
        root / "markers.mp4", seconds=0.8, fps=25, size=(96, 64), face=False
    )
    n = video.n_frames
    track = FaceTrack(
        source_hash="x",
        detector="none",
        fps=25.0,
        width=96,
        height=64,
        n_frames=n,
        boxes=np.full((n, 4), np.nan, np.float32),
        landmarks=np.full((n, 68, 2), np.nan, np.float32),
        present=np.zeros(n, bool),
        mouth_open=np.full(n, np.nan, np.float32),
    )
    return video, track


def test_frames_follow_the_schedule_and_the_result_adds_up(tmp_path, clip, speech_wav):
    video, track = clip
    engine = _PassEngine()
    reports = []
    r = engine.render(
        speech_wav,
        video.path,
        track,
        tmp_path / "out.mp4",
        options=RenderOptions(duration_s=1.6),
        progress=reports.append,
    )
    schedule = frame_schedule(track.n_frames, 40, "pingpong").tolist()
    with open_video(r.path) as out:
        assert [mediagen.read_marker(f.image) for f in out.frames()] == schedule
    assert (r.frames, r.fps, r.width, r.height) == (40, 25.0, 96, 64)
    assert r.duration_s == pytest.approx(1.6)
    assert r.frames_without_face == sum(k % 2 for k in schedule)
    assert r.stats["written"] == 40 and r.stats["samples"] == 16000 * 1.6
    assert r.stats["decoded_frames"] >= track.n_frames and r.stats["x_realtime"] > 0
    assert probe(r.path).has_audio and probe(r.path).duration_s == pytest.approx(1.6, abs=0.05)
    assert next(p.stage for p in reports) == "audio" and reports[-1].stage == "render"
    assert reports[-1].overall == pytest.approx(1.0)
    assert engine.ready_calls == 1


def test_an_error_in_the_frame_pass_leaves_no_file(tmp_path, clip, speech_wav):
    video, track = clip
    out_dir = tmp_path / "out"
    with pytest.raises(_Boom):
        _PassEngine(fail_at=15).render(
            speech_wav,
            video.path,
            track,
            out_dir / "out.mp4",
            options=RenderOptions(duration_s=1.6),
        )
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_empty_audio_and_a_foreign_track_are_refused(tmp_path, clip, speech_wav):
    video, track = clip
    with pytest.raises(InputError, match="audio is empty"):
        _PassEngine().render(
            speech_wav, video.path, track, tmp_path / "a.mp4", options=RenderOptions(duration_s=0)
        )
    other = mediagen.make_video(
        tmp_path / "other.mp4", seconds=0.4, fps=25, size=(96, 64), face=False
    )
    with pytest.raises(InputError, match="other.mp4"):
        _PassEngine().render(speech_wav, other.path, track, tmp_path / "b.mp4")
    assert list(tmp_path.iterdir()) == [tmp_path / "other.mp4"]


def _timeline(path) -> tuple[list[tuple[float, int]], float]:
    """(time, source frame marker) of each output frame, and the audio stream's duration as
    the file declares it (decoding gives whole AAC frames of 1024 samples)."""
    import av

    with av.open(str(path)) as c:
        frames = [
            (float(f.time), mediagen.read_marker(f.to_ndarray(format="rgb24")))
            for f in c.decode(video=0)
        ]
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        audio_s = float(stream.duration * stream.time_base)
    return frames, audio_s


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("bounce", [*range(20), *range(18, 0, -1), 0, 1]),
        ("loop", [*range(20), *range(20)]),
        ("hold", [*range(20), *[19] * 20]),
        ("cut", list(range(20))),
    ],
)
def test_duration_modes_when_the_speech_outlasts_the_clip(
    tmp_path, clip, speech_wav, mode, expected
):
    """A 0.8 s clip (20 frames at 25 fps) with 1.6 s of speech: which source frame is shown at
    which output time, and how long picture and sound last."""
    video, track = clip
    assert track.n_frames == 20
    r = _PassEngine().render(
        speech_wav,
        video.path,
        track,
        tmp_path / f"{mode}.mp4",
        options=RenderOptions(duration_s=1.6, timeline=mode),
    )
    frames, audio_s = _timeline(r.path)
    assert [marker for _, marker in frames] == expected
    assert [t for t, _ in frames] == pytest.approx([i / 25 for i in range(len(expected))], abs=1e-3)
    seconds = 0.8 if mode == "cut" else 1.6
    assert (r.frames, r.duration_s) == (len(expected), pytest.approx(seconds))
    assert audio_s == pytest.approx(seconds, abs=0.03)  # "cut" cuts the speech too
    assert probe(r.path).duration_s == pytest.approx(seconds, abs=0.05)


def test_frames_without_a_face_pass_through_and_are_reported_as_ranges(tmp_path, clip, speech_wav):
    video, track = clip
    r = _PassEngine().render(
        speech_wav,
        video.path,
        track,
        tmp_path / "hold.mp4",
        options=RenderOptions(duration_s=1.2, timeline="hold"),
    )
    # Odd source frames have no face; held frame 19 is odd, so 0.76 s to the end is one range.
    assert r.untouched_ranges[:2] == ((0.04, 0.08), (0.12, 0.16))
    assert r.untouched_ranges[-1] == (0.76, 1.2)
    assert len(r.untouched_ranges) == 10
    assert r.frames_without_face == 9 + 11 == r.stats["no_face_written"]


def test_the_fail_policy_fails_before_rendering_and_names_file_and_times(
    tmp_path, clip, speech_wav
):
    from lipsync.errors import FramesWithoutFaceError

    video, track = clip
    with pytest.raises(FramesWithoutFaceError) as caught:
        _PassEngine().render(
            speech_wav,
            video.path,
            track,
            tmp_path / "out" / "fail.mp4",
            options=RenderOptions(duration_s=1.2, timeline="hold", no_face="fail"),
        )
    exc = caught.value
    assert exc.frames == 20 and exc.ranges[-1] == (0.76, 1.2)
    message = str(exc)
    assert message.startswith("markers.mp4: no usable face in 20 frames (0.04–0.08 s, ")
    assert message.count("–") == 5 and "…" in message and "pass through untouched" in message
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    with pytest.raises(ValueError, match="no_face"):
        _PassEngine().render(
            speech_wav, video.path, track, tmp_path / "x.mp4", options=RenderOptions(no_face="skip")
        )
