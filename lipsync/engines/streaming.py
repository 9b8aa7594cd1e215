"""The render steps every frame-by-frame engine shares, as one template method.

:meth:`StreamingEngine.render` reads and trims the speech, checks the face track against the
presenter file, plans the frame schedule, streams the scheduled frames through a prefetch
thread, hands them to the engine's :class:`FramePass`, encodes behind it on a writer thread,
reports progress, removes the partial file on any error or cancellation and builds the
:class:`~lipsync.engines.base.RenderResult`. An engine supplies only what differs: the audio
analysis and the per-frame (or per-batch) work, in :meth:`StreamingEngine._frame_pass`.
"""

from __future__ import annotations

import functools
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import numpy as np

from ..errors import (
    FramesWithoutFaceError,
    InputError,
    enter_stage,
    in_stage,
    reason,
    staged,
    what_to_do,
)
from ..picture import i420_to_rgb
from ..pipeline import BackgroundWriter, Prefetch
from ..progress import CancelCheck, ProgressCallback, ProgressTracker
from ..scheduled_frames import DEFAULT_BUDGET_BYTES, ScheduledFrames
from ..timeline import format_ranges
from .base import (
    NO_FACE_FAIL,
    NO_FACE_POLICIES,
    Engine,
    PathLike,
    RenderOptions,
    RenderResult,
    Stats,
)

if TYPE_CHECKING:
    from ..media.video import VideoSource
    from ..track import FaceTrack, Pick

EMPTY_AUDIO = reason(
    "audio is empty", what_to_do("choose a recording with speech in it, at least a second long")
)
TRACK_MISMATCH = reason(
    "the face track was made from a different file",
    what_to_do("prepare the presenter again (run its face check again)"),
)
FRAMES_WITHOUT_FACE = reason(
    "no usable face in %(n)d frames (%(ranges)s) and this render is set to fail on such frames",
    what_to_do(
        "choose a presenter whose face stays in view, or let frames without a face pass "
        "through untouched"
    ),
)

#: What a :class:`FramePass` gets from the prefetch thread, one per output frame.
ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class RenderJob:
    """What an engine's :class:`FramePass` is made from: one render's inputs, read and checked.

    ``wav`` is the speech (16 kHz mono) already trimmed to ``duration_s``; ``source`` is the
    open presenter (:class:`~lipsync.media.video.VideoSource`), which a frame pass may read
    from only while it is being built (afterwards the prefetch thread decodes from it);
    ``schedule[t]`` is the source frame shown at output frame ``t``.
    """

    audio: PathLike
    presenter: PathLike
    track: FaceTrack
    options: RenderOptions
    wav: np.ndarray
    duration_s: float
    fps: float
    n_out: int
    source: VideoSource
    schedule: np.ndarray


class FramePass(ABC, Generic[ItemT]):
    """An engine's own part of one render: scheduled frames in, finished frames written.

    Built per render by :meth:`StreamingEngine._frame_pass`, so it holds that render's state
    (audio features, compositor, statistics) and the long-lived engine holds none.
    """

    #: The render this pass belongs to (set by every pass's constructor).
    job: RenderJob
    #: Items the prefetch thread may run ahead of :meth:`run`.
    prefetch_depth: int = 6
    #: Frames queued for the encoder thread.
    writer_depth: int = 4
    #: True for a pass that takes and writes I420 frames (:mod:`lipsync.picture`, in the
    #: job's ``source.matrix``) and converts only what it draws on; others get RGB frames.
    i420: bool = False

    def items(self, frames: Iterable[np.ndarray]) -> Iterable[ItemT]:
        """What the prefetch thread produces from the scheduled frames (default: them, for a
        ``FramePass[np.ndarray]``; a pass with other items overrides this)."""
        return cast("Iterable[ItemT]", frames)

    @abstractmethod
    def run(
        self, items: Iterator[ItemT], writer: BackgroundWriter, tracker: ProgressTracker
    ) -> int:
        """Write one frame per output frame to ``writer``, advancing ``tracker`` and checking
        it for cancellation; return how many frames had no usable face."""

    def stats(self) -> Stats:
        """Engine-specific entries for :attr:`RenderResult.stats`."""
        return {}

    def face_frames(self) -> np.ndarray:
        """Per source frame, whether :meth:`run` will draw its mouth (bool array); the others
        are written untouched. Known before the pass runs, so a render set to fail on them
        fails before any frame is drawn. Default: the frames with a tracked face; an engine with a
        stricter test (a usable crop, a large enough face) overrides this with it."""
        return np.asarray(self.job.track.present, bool)


class StreamingEngine(Engine):
    """An engine that renders by streaming the presenter's frames through a :class:`FramePass`."""

    #: Bytes of decoded source frames kept for the ping-pong schedule.
    frame_budget_bytes: int = DEFAULT_BUDGET_BYTES

    @staged("face")
    def prepare(
        self,
        presenter: PathLike,
        *,
        pick: Pick = None,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> FaceTrack:
        """The presenter's face track, cached by content and shared by every engine.

        Needs no model weights: presenters are prepared on CPU workers, which never load one.
        """
        from ..faces.detector import detector_for
        from ..track import prepare_track

        return prepare_track(
            presenter,
            detector=detector_for(self.model_dir),
            cache=self.cache_dir,
            pick=pick,
            progress=progress,
            cancel=cancel,
        )

    def _ready(self) -> None:
        """Called first by every render: load what the engine needs, so a missing model fails
        before any media work. Nothing by default."""

    def check_ready(self) -> None:
        self._ready()

    @abstractmethod
    def _frame_pass(self, job: RenderJob) -> FramePass[Any]:
        """Analyse the audio (and, if needed, read from ``job.source``) for this render."""

    @staged("model")
    def render(
        self,
        audio: PathLike,
        presenter: PathLike,
        track: FaceTrack | None,
        out: PathLike,
        *,
        options: RenderOptions = RenderOptions(),
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> RenderResult:
        """See :meth:`Engine.render`; a ``track`` of None is prepared (or read from the cache)
        here."""
        from ..audio import SAMPLE_RATE, load_audio
        from ..media.video import open_video
        from ..media.writer import VideoWriter
        from ..timeline import frame_schedule, n_output_frames, planned_frames, time_ranges

        if options.no_face not in NO_FACE_POLICIES:
            raise ValueError(f"no_face must be one of {', '.join(NO_FACE_POLICIES)}")
        t0 = time.monotonic()
        self._ready()
        if track is None:
            track = self.prepare(presenter, cancel=cancel)
        stage = ProgressTracker("audio", 1, progress, cancel, span=(0.0, 0.03))
        stage.check_cancel()
        enter_stage("audio")
        wav = load_audio(audio)
        duration = len(wav) / SAMPLE_RATE
        if options.duration_s is not None:
            duration = min(duration, max(float(options.duration_s), 0.0))
            wav = wav[: int(round(duration * SAMPLE_RATE))]
        if duration <= 0:
            raise InputError(audio, EMPTY_AUDIO)
        enter_stage("decode")
        source = open_video(presenter, fps=track.fps)
        with source:
            if source.frame_count != track.n_frames or (source.width, source.height) != (
                track.width,
                track.height,
            ):
                raise InputError(presenter, TRACK_MISMATCH)
            fps = float(track.fps)
            n_out = planned_frames(
                track.n_frames,
                n_output_frames(duration, fps),
                options.timeline,
                still=source.is_image,
            )
            if n_out / fps < duration:  # "cut": the speech ends with the clip
                duration = n_out / fps
                wav = wav[: int(round(duration * SAMPLE_RATE))]
            schedule = np.asarray(frame_schedule(track.n_frames, n_out, options.timeline))
            enter_stage("audio")  # the engine's audio features
            frame_pass = self._frame_pass(
                RenderJob(
                    audio=audio,
                    presenter=presenter,
                    track=track,
                    options=options,
                    wav=wav,
                    duration_s=duration,
                    fps=fps,
                    n_out=n_out,
                    source=source,
                    schedule=schedule,
                )
            )
            untouched = ~np.asarray(frame_pass.face_frames(), bool)[schedule]
            ranges = time_ranges(untouched, fps)
            if options.no_face == NO_FACE_FAIL and ranges:
                raise FramesWithoutFaceError(
                    presenter,
                    FRAMES_WITHOUT_FACE,
                    {"n": int(untouched.sum()), "ranges": format_ranges(ranges)},
                    frames=int(untouched.sum()),
                    ranges=ranges,
                )
            stage.finish()
            frames = ScheduledFrames(
                functools.partial(source.frames, i420=True),
                schedule,
                track.width,
                track.height,
                self.frame_budget_bytes,
            )
            pictures: Iterable[np.ndarray] = in_stage("decode", frames)
            if not frame_pass.i420:
                pictures = (i420_to_rgb(f, source.matrix) for f in pictures)
            ahead = Prefetch(
                in_stage("mouth", frame_pass.items(pictures)),
                depth=frame_pass.prefetch_depth,
            )
            enter_stage("encode")
            writer = BackgroundWriter(
                VideoWriter(
                    out,
                    track.width,
                    track.height,
                    fps,
                    audio=audio,
                    audio_duration_s=duration,
                    crf=options.crf,
                    preset=options.preset,
                    codec=options.video_codec,
                    max_height=options.max_height,
                    x264_params=options.x264_params,
                    subtitles=options.subtitles,
                    burn_subtitles=options.burn_subtitles,
                    subtitle_font=options.subtitle_font,
                    bitrate=_source_bitrate(source, options),
                    matrix=source.matrix,
                    output_width=source.output_width,
                    output_height=source.output_height,
                ),
                depth=frame_pass.writer_depth,
            )
            tracker = ProgressTracker("render", n_out, progress, cancel, span=(0.03, 1.0))
            t_render = time.monotonic()
            try:
                enter_stage("mouth")
                no_face = frame_pass.run(iter(ahead), writer, tracker)
                tracker.check_cancel()
                enter_stage("encode")
                path = writer.close()
            except BaseException:
                writer.abort()
                raise
            finally:
                ahead.close()
        tracker.finish()
        elapsed = time.monotonic() - t0
        stats: Stats = {
            "seconds": elapsed,
            "render_seconds": time.monotonic() - t_render,
            "x_realtime": (n_out / fps) / max(elapsed, 1e-9),
            "decoded_frames": frames.decoded,
            "decoder_restarts": frames.restarts,
            "no_face_written": no_face,
        }
        stats.update(frame_pass.stats())
        return RenderResult(
            path=os.fspath(path),
            duration_s=n_out / fps,
            frames=n_out,
            width=writer.writer.width,
            height=writer.writer.height,
            fps=fps,
            frames_without_face=int(untouched.sum()),
            untouched_ranges=ranges,
            stats=stats,
        )


def _source_bitrate(source: VideoSource, options: RenderOptions) -> int | None:
    """The video bitrate that matches the presenter's (``match_source``), else None."""
    from ..media.writer import matched_bitrate, output_size

    if not options.match_source:
        return None
    own = (source.output_width, source.output_height)  # the file's size, not the capped one
    return matched_bitrate(source.info.video_bitrate, own, output_size(*own, options.max_height))
