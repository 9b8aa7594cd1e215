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

import os
import time
from typing import Optional

import numpy as np

from ..composite import Compositor
from ..errors import InputError
from ..mouth.animate import animate_mouth
from ..mouth.drive import MouthMotion, mouth_motion
from ..mouth.interior import sample_teeth_colour
from ..mouth.pose import face_frame
from ..progress import CancelCheck, ProgressCallback, ProgressTracker
from ..pipeline import BackgroundWriter, Prefetch
from ..scheduled_frames import DEFAULT_BUDGET_BYTES, ScheduledFrames
from .base import Engine, PathLike, RenderOptions, RenderResult, register_engine

#: Source frames searched for the presenter's teeth colour.
TEETH_SEARCH = 50
#: Smallest face (eyes to chin, pixels) that is animated; smaller ones pass through.
MIN_FACE_PX = 12.0
#: Frames between two cancellation checks.
CANCEL_EVERY = 8


def motion_from_features(features) -> MouthMotion:
    """Mouth motion from :class:`lipsync.audio.AudioFeatures`.

    Shape comes from ``roundness`` (rounded o/u vs spread i/e), centred on its median over
    speech frames and scaled by its spread, so a voice's overall timbre does not bias every
    frame to one shape. Sibilants (s, sh, f) are loud but made with nearly closed lips, so
    ``sibilance`` reduces the opening.
    """
    env = np.asarray(features.envelope, np.float32)
    activity = np.asarray(features.activity, bool)
    cue = np.nan_to_num(np.asarray(features.roundness, np.float32), nan=0.5)
    ref = cue[activity] if activity.sum() >= 5 else cue
    spread = float(ref.std()) or 1.0
    shape = -np.clip((cue - float(np.median(ref))) / (2.0 * spread), -1.0, 1.0)
    sib = np.clip(np.nan_to_num(np.asarray(features.sibilance, np.float32)), 0.0, 1.0)
    env = env * (1.0 - 0.6 * sib)
    return mouth_motion(env, shape, activity)


def _usable(lm: np.ndarray) -> bool:
    """Landmarks a mouth can be animated from: finite, and a face of at least a few pixels
    (below that the mouth is a smudge and the mesh would degenerate)."""
    if not np.isfinite(lm).all():
        return False
    return face_frame(lm).height >= MIN_FACE_PX and (lm[54] - lm[48]).any()


@register_engine
class WarpEngine(Engine):
    """Weight-free lip sync by warping the presenter's own mouth and jaw."""

    name = "warp"
    needs_weights = False

    def __init__(self, device: str = "auto", model_dir: Optional[PathLike] = None,
                 cache_dir: Optional[PathLike] = None,
                 frame_budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        super().__init__(device=device, model_dir=model_dir, cache_dir=cache_dir)
        self.frame_budget_bytes = frame_budget_bytes

    def prepare(self, presenter: PathLike, *, pick: object = None,
                progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelCheck] = None):
        from ..track import prepare_track
        return prepare_track(presenter, cache=self.cache_dir, pick=pick, progress=progress,
                             cancel=cancel)

    def render(self, audio: PathLike, presenter: PathLike, track, out: PathLike, *,
               options: RenderOptions = RenderOptions(),
               progress: Optional[ProgressCallback] = None,
               cancel: Optional[CancelCheck] = None) -> RenderResult:
        """See :meth:`Engine.render`; a ``track`` of None is prepared (or read from the cache)
        here."""
        from ..audio import audio_features, load_audio
        from ..media.video import open_video
        from ..media.writer import VideoWriter
        from ..timeline import frame_schedule, n_output_frames

        t0 = time.monotonic()
        if track is None:
            track = self.prepare(presenter, cancel=cancel)
        stage = ProgressTracker("audio", 1, progress, cancel, span=(0.0, 0.03))
        stage.check_cancel()
        wav = load_audio(audio)
        sr = 16000
        duration = len(wav) / sr
        if options.duration_s is not None:
            duration = min(duration, max(float(options.duration_s), 0.0))
            wav = wav[:int(round(duration * sr))]
        if duration <= 0:
            raise InputError(audio, "audio is empty")
        source = open_video(presenter, fps=track.fps)
        with source:
            if source.frame_count != track.n_frames or (source.width, source.height) != (
                    track.width, track.height):
                raise InputError(presenter, "the face track was made from a different file")
            fps = float(track.fps)
            n_out = n_output_frames(duration, fps)
            motion = motion_from_features(audio_features(wav, fps, n_out))
            stage.finish()
            schedule = np.asarray(frame_schedule(track.n_frames, n_out, options.timeline))
            teeth = self._teeth_colour(source, track)
            frames = ScheduledFrames(source.frames, schedule, track.width, track.height,
                                     self.frame_budget_bytes)
            # Queues hold whole RGB frames: keep them to ~64 MiB so 4K stays within budget.
            depth = int(np.clip((64 << 20) // (track.width * track.height * 3), 2, 6))
            ahead = Prefetch(frames, depth=depth)
            writer = BackgroundWriter(VideoWriter(
                out, track.width, track.height, fps, audio=audio, audio_duration_s=duration,
                crf=options.crf, preset=options.preset, codec=options.video_codec,
                max_height=options.max_height), depth=depth)
            tracker = ProgressTracker("render", n_out, progress, cancel, span=(0.03, 1.0))
            comp = Compositor(extend_down=0.04, colour_match=False)
            no_face = 0
            t_render = time.monotonic()
            try:
                for t, (k, image) in enumerate(zip(schedule.tolist(), ahead)):
                    if t % CANCEL_EVERY == 0:
                        tracker.check_cancel()
                    lm = track.landmarks[k]
                    if track.present[k] and _usable(lm):
                        patch = animate_mouth(image, lm, float(motion.open[t]),
                                              float(motion.shape[t]), teeth)
                        comp.paste(image, patch.image, patch.box, np.stack([lm, patch.target]))
                    else:
                        no_face += 1
                        comp.reset()
                    writer.write(image)
                    tracker.advance()
                tracker.check_cancel()
                path = writer.close()
            except BaseException:
                writer.abort()
                raise
            finally:
                ahead.close()
        tracker.finish()
        elapsed = time.monotonic() - t0
        return RenderResult(
            path=os.fspath(path), duration_s=n_out / fps, frames=n_out,
            width=writer.writer.width, height=writer.writer.height, fps=fps,
            frames_without_face=no_face,
            stats={"seconds": elapsed, "render_seconds": time.monotonic() - t_render,
                   "x_realtime": (n_out / fps) / max(elapsed, 1e-9),
                   "decoded_frames": frames.decoded, "decoder_restarts": frames.restarts,
                   "mean_open": float(motion.open.mean()) if n_out else 0.0})

    @staticmethod
    def _teeth_colour(source, track) -> Optional[np.ndarray]:
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

