"""Progress reports and cancellation shared by every long engine operation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import CancelledError


@dataclass(frozen=True)
class Progress:
    """One progress report.

    ``fraction`` is the share of the *current stage* done (0..1); ``overall`` the share of the
    whole operation. ``fps`` is frames per second over the stage so far and ``eta_s`` the
    estimated seconds left for the whole operation (``None`` until it can be estimated).
    """

    stage: str
    fraction: float
    overall: float
    frames_done: int = 0
    frames_total: int = 0
    fps: float = 0.0
    eta_s: float | None = None


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


class ProgressTracker:
    """Turns frame counts into :class:`Progress` reports for one stage of an operation.

    ``span`` is the (start, end) share of the whole operation this stage covers, so several
    stages make one overall bar. Reports are sent at most every ``min_interval`` seconds, plus
    always the final one.
    """

    def __init__(
        self,
        stage: str,
        total: int,
        callback: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
        span: tuple[float, float] = (0.0, 1.0),
        min_interval: float = 0.2,
    ) -> None:
        self.stage = stage
        self.total = max(int(total), 0)
        self.callback = callback
        self.cancel = cancel
        self.span = span
        self.min_interval = min_interval
        self.done = 0
        self._start = time.monotonic()
        self._last_sent = 0.0

    def check_cancel(self) -> None:
        """Raise :class:`CancelledError` if the caller asked to stop."""
        if self.cancel is not None and self.cancel():
            raise CancelledError(f"cancelled during {self.stage}")

    def advance(self, n: int = 1, force: bool = False) -> None:
        self.done += n
        now = time.monotonic()
        if self.callback is None:
            return
        if not force and self.done < self.total and now - self._last_sent < self.min_interval:
            return
        self._last_sent = now
        self.callback(self.snapshot(now))

    def snapshot(self, now: float | None = None) -> Progress:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self._start, 1e-9)
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        fps = self.done / elapsed
        lo, hi = self.span
        overall = lo + (hi - lo) * fraction
        eta = None
        if self.done > 0 and fraction > 0:
            stage_left = elapsed * (1.0 - fraction) / fraction
            whole_stage = elapsed / fraction
            rest = whole_stage * (1.0 - hi) / (hi - lo) if hi > lo else 0.0
            eta = stage_left + rest
        return Progress(self.stage, fraction, overall, self.done, self.total, fps, eta)

    def finish(self) -> None:
        self.done = max(self.done, self.total)
        if self.callback is not None:
            self.callback(self.snapshot())
