"""How long renders take: job time limits and the estimate shown before submitting.

The estimate is the server's rule; the new-batch page asks ``/batches/estimate.json`` for it
(:func:`batch_estimate`) instead of computing it itself.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from redis.exceptions import RedisError
from rq import Worker

from studio import queues
from studio.models import Team
from studio.queues import QueueName

from ..models import RenderTask, TaskStatus

#: Seconds each render spends outside its frames (queue pickup, reading inputs, muxing).
RENDER_OVERHEAD_S = 1.0
#: Frame rate assumed for the output when estimating (presenters are usually 25-30 fps).
ESTIMATE_VIDEO_FPS = 25.0
#: Recent renders the measured speed is the median of.
ESTIMATE_SAMPLE = 20


def render_timeout_s(
    audio_s: float | None, presenter_s: float | None, preview_s: float | None = None
) -> int:
    """Job time limit: a fixed allowance plus a multiple of the media's length.

    Sized for a CPU worker (the slowest case); ``RENDER_TIMEOUT_*`` settings tune it.
    """
    if audio_s is None:
        audio_s = float(settings.RENDER_TIMEOUT_UNKNOWN_AUDIO_S)
    if preview_s is not None:
        audio_s = min(audio_s, preview_s)
    return int(
        settings.RENDER_TIMEOUT_BASE_S
        + settings.RENDER_TIMEOUT_PER_AUDIO_S * audio_s
        + settings.RENDER_TIMEOUT_PER_PRESENTER_S * (presenter_s or 0.0)
    )


def measured_fps(team: Team, engine: str) -> float | None:
    """Median wall-clock frames/s of the team's recent succeeded renders with ``engine``.

    Wall clock (frames over start-to-finish time) rather than the engine's own frame rate so
    the face tracking and encoding a render also pays are in it. None without any.
    """
    rows = (
        RenderTask.objects.filter(
            batch__team=team, batch__engine=engine, status=TaskStatus.SUCCEEDED, frames_total__gt=0
        )
        .exclude(started_at=None)
        .exclude(finished_at=None)
        .order_by("-finished_at")
        .values_list("frames_total", "started_at", "finished_at", "fps")[:ESTIMATE_SAMPLE]
    )
    speeds = []
    for frames, started, finished, fps in rows:
        if started is None or finished is None:
            continue
        seconds = (finished - started).total_seconds()
        if seconds > 0:
            speeds.append(frames / seconds)
        elif fps:
            speeds.append(fps)
    return statistics.median(speeds) if speeds else None


def render_speed(team: Team, engine: str) -> float:
    """Frames/s to estimate with: measured on this install, else
    ``RENDER_ESTIMATE_FALLBACK_FPS``."""
    return measured_fps(team, engine) or float(settings.RENDER_ESTIMATE_FALLBACK_FPS)


def render_workers() -> int:
    """Workers listening on the render queue now (at least 1, so an estimate stays finite)."""
    try:
        redis = queues.connection(QueueName.GPU)
        n = sum(1 for w in Worker.all(connection=redis) if QueueName.GPU in w.queue_names())
    except RedisError:
        return 1
    return max(1, n)


def render_seconds(audio_seconds: float, fps: float) -> float:
    """One worker's time for one render of ``audio_seconds`` of speech at ``fps`` frames/s."""
    return RENDER_OVERHEAD_S + audio_seconds * ESTIMATE_VIDEO_FPS / max(fps, 1e-3)


def estimate_seconds(
    n_tasks: int, audio_seconds: float, fps: float | None = None, workers: int = 1
) -> float:
    """A rough wall time for ``n_tasks`` renders of ``audio_seconds`` of speech each, at
    ``fps`` frames/s per worker, spread over ``workers``."""
    fps = fps or float(settings.RENDER_ESTIMATE_FALLBACK_FPS)
    return n_tasks * render_seconds(audio_seconds, fps) / max(1, workers)


@dataclass(frozen=True)
class BatchEstimate:
    renders: int
    #: Wall time of the whole batch, None when nothing is chosen.
    seconds: float | None
    #: Wall time of a preview of the first audio track with one presenter.
    preview_seconds: float | None

    def to_json(self) -> dict[str, float | int | None]:
        return {
            "renders": self.renders,
            "seconds": None if self.seconds is None else round(self.seconds, 1),
            "preview_seconds": (
                None if self.preview_seconds is None else round(self.preview_seconds, 1)
            ),
        }


def batch_estimate(
    team: Team, engine: str, audio_seconds: Sequence[float], presenters: int
) -> BatchEstimate:
    """The estimate for ``presenters`` presenters times the audio tracks of ``audio_seconds``:
    renders spread over the workers there are (but never more lanes than renders)."""
    n = len(audio_seconds) * presenters
    if not n:
        return BatchEstimate(n, None, None)
    fps = render_speed(team, engine)
    lanes = max(1, min(render_workers(), n))
    total = presenters * sum(render_seconds(a, fps) for a in audio_seconds) / lanes
    first = audio_seconds[0] or settings.PREVIEW_SECONDS
    preview = render_seconds(min(first, settings.PREVIEW_SECONDS), fps)
    return BatchEstimate(n, total, preview)
