"""The default engine ``warp``: landmark-driven mouth animation, no model weights.

Per output frame: take the scheduled presenter frame and its tracked landmarks, close the
template's own mouth (:func:`lipsync.mouth.pose.neutralise`), open it again as the speech asks
(:mod:`lipsync.mouth.drive`), move lips and jaw there with a piecewise-affine warp of a small
region around the mouth, paint the interior where the template has none to offer, and blend
the region back with the shared :class:`~lipsync.composite.Compositor`.

Work is streamed: frames are decoded, animated and encoded one at a time; only the bounded
frame cache of :class:`~lipsync.scheduled_frames.ScheduledFrames` holds more than one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..composite import Compositor
from ..mouth.animate import MouthPatch, animatable, animate_mouth, mouth_region
from ..mouth.drive import MouthMotion, mouth_motion
from ..mouth.interior import sample_teeth_colour
from ..mouth.pose import face_frame
from ..picture import even_box, put_region, region_rgb
from ..pipeline import BackgroundWriter
from ..progress import ProgressTracker
from ..scheduled_frames import DEFAULT_BUDGET_BYTES
from ..silence import SpeechGate, speech_gate
from .base import PathLike, Stats, register_engine
from .streaming import FramePass, RenderJob, StreamingEngine

if TYPE_CHECKING:
    from ..audio import AudioFeatures
    from ..media.video import VideoSource
    from ..track import FaceTrack

#: Source frames searched for the presenter's teeth colour.
TEETH_SEARCH = 50
#: Frames between two cancellation checks.
CANCEL_EVERY = 8


def motion_from_features(features: AudioFeatures, gate: SpeechGate | None = None) -> MouthMotion:
    """Mouth motion from :class:`lipsync.audio.AudioFeatures`, closed where ``gate`` (the
    shared :mod:`lipsync.silence` gate) says silence.

    Shape comes from ``roundness`` (rounded o/u vs spread i/e), centred on its median over
    speech frames and scaled by its spread, so a voice's overall timbre does not bias every
    frame to one shape. Sibilants (s, sh, f) are loud but made with nearly closed lips, so
    ``sibilance`` reduces the opening.
    """
    env = np.asarray(features.envelope, np.float32)
    activity = np.asarray(features.activity if gate is None else gate.activity, bool)
    cue = np.nan_to_num(np.asarray(features.roundness, np.float32), nan=0.5)
    ref = cue[activity] if activity.sum() >= 5 else cue
    spread = float(ref.std()) or 1.0
    shape = -np.clip((cue - float(np.median(ref))) / (2.0 * spread), -1.0, 1.0)
    sib = np.clip(np.nan_to_num(np.asarray(features.sibilance, np.float32)), 0.0, 1.0)
    env = env * (1.0 - 0.6 * sib)
    motion = mouth_motion(env, shape, activity)
    if gate is None:
        return motion
    # The follower's release would leave the lips parted for a few frames after speech;
    # the gate's ramp brings them to rest, and keeps them there, whatever the envelope does.
    return MouthMotion(motion.open * gate.gate, motion.shape * gate.gate)


@register_engine
class WarpEngine(StreamingEngine):
    """Weight-free lip sync by warping the presenter's own mouth and jaw."""

    name = "warp"
    needs_weights = False

    def __init__(
        self,
        device: str = "auto",
        model_dir: PathLike | None = None,
        cache_dir: PathLike | None = None,
        frame_budget_bytes: int = DEFAULT_BUDGET_BYTES,
    ) -> None:
        super().__init__(device=device, model_dir=model_dir, cache_dir=cache_dir)
        self.frame_budget_bytes = frame_budget_bytes

    def _frame_pass(self, job: RenderJob) -> _WarpPass:
        from ..audio import audio_features

        gate = speech_gate(job.wav, job.fps, job.n_out)
        motion = motion_from_features(audio_features(job.wav, job.fps, job.n_out), gate)
        return _WarpPass(job, motion, self._teeth_colour(job.source, job.track), gate)

    @staticmethod
    def _teeth_colour(source: VideoSource, track: FaceTrack) -> np.ndarray | None:
        """The presenter's teeth colour from the frame where their mouth is widest open."""
        # Only the first seconds are searched: decoding further would delay the first frame.
        mo = np.where(track.present, np.nan_to_num(track.mouth_open, nan=0.0), 0.0)[:TEETH_SEARCH]
        if not len(mo) or float(mo.max()) < 0.03:
            return None
        k = int(np.argmax(mo))
        it = source.frames(k)
        try:
            frame = next(iter(it), None)
        finally:
            if hasattr(it, "close"):
                it.close()
        if frame is None:
            return None
        lm = track.landmarks[k]
        return sample_teeth_colour(frame.image, lm, face_frame(lm))


class _WarpPass(FramePass[np.ndarray]):
    """One render of the warp engine: animate each scheduled frame's mouth, one at a time.

    Frames stay I420 as decoded; only the mouth region is converted to RGB, drawn on, and
    its changed pixels converted back, so the rest of a frame costs nothing here.
    """

    i420 = True

    def __init__(
        self, job: RenderJob, motion: MouthMotion, teeth: np.ndarray | None, gate: SpeechGate
    ) -> None:
        self.job, self.motion, self.teeth, self.gate = job, motion, teeth, gate
        self.matrix = job.source.matrix
        self.mouth_cpu_s = 0.0
        # A still presenter in silence asks for the same mouth frame after frame: reuse it.
        self._last: tuple[tuple[int, float, float], MouthPatch] | None = None
        track = job.track
        # Queues hold whole I420 frames: keep them to ~64 MiB so large pictures stay in budget.
        depth = int(np.clip((64 << 20) // (track.width * track.height * 3 // 2), 2, 6))
        self.prefetch_depth = self.writer_depth = depth

    def run(
        self, items: Iterator[np.ndarray], writer: BackgroundWriter, tracker: ProgressTracker
    ) -> int:
        track = self.job.track
        comp = Compositor(extend_down=0.04, colour_match=False)
        no_face = 0
        for t, (k, image) in enumerate(zip(self.job.schedule.tolist(), items)):
            if t % CANCEL_EVERY == 0:
                tracker.check_cancel()
            lm = track.landmarks[k]
            if track.present[k] and animatable(lm):
                started = time.thread_time()
                self._animate(image, k, lm, t, comp)
                self.mouth_cpu_s += time.thread_time() - started
            else:
                no_face += 1
                comp.reset()
            writer.write(image)
            tracker.advance()
        return no_face

    def _animate(self, image: np.ndarray, k: int, lm: np.ndarray, t: int, comp: Compositor) -> None:
        """Animate the mouth of I420 frame ``image`` (source frame ``k``) in place, working on
        its region only."""
        track = self.job.track
        box = mouth_region(lm, (track.height, track.width))
        rx0, ry0, _, _ = box
        rgb = region_rgb(image, box, self.matrix)
        before = rgb.copy()
        local = lm - np.array([rx0, ry0], np.float32)
        key = (k, float(self.motion.open[t]), float(self.motion.shape[t]))
        if self._last is not None and self._last[0] == key:
            patch = self._last[1]
        else:
            patch = animate_mouth(rgb, local, key[1], key[2], self.teeth)
            self._last = (key, patch)
        comp.paste(rgb, patch.image, patch.box, np.stack([local, patch.target]), origin=(rx0, ry0))
        # The compositor changed pixels inside the patch's box only: write back just that.
        h, w = rgb.shape[:2]
        px0, py0, px1, py1 = even_box(patch.box, w, h)
        if px1 > px0 and py1 > py0:
            put_region(
                image,
                (rx0 + px0, ry0 + py0, rx0 + px1, ry0 + py1),
                np.ascontiguousarray(rgb[py0:py1, px0:px1]),
                before[py0:py1, px0:px1],
                self.matrix,
            )

    def stats(self) -> Stats:
        """Mean opening, silent frames, and the CPU seconds the mouth work took (the bench's
        limit ratio tells it apart from decoding and encoding)."""
        return {
            "mean_open": float(self.motion.open.mean()) if self.job.n_out else 0.0,
            "silent_frames": self.gate.silent_frames,
            "mouth_cpu_seconds": self.mouth_cpu_s,
        }

    def face_frames(self) -> np.ndarray:
        """The test :meth:`run` applies: a tracked face with animatable landmarks."""
        track = self.job.track
        return np.array(
            [
                bool(track.present[k]) and animatable(track.landmarks[k])
                for k in range(track.n_frames)
            ],
            bool,
        )
