"""Source frames in the order of an output schedule, with bounded memory.

A ping-pong schedule plays the presenter forward then backward, but video decodes only
forward. Holding the whole clip would make memory grow with its length, so frames are kept in
a cache of fixed byte size (frames are kept as they come: the render's I420 arrays take half
the bytes of RGB). Since the whole
schedule is known in advance, the cache keeps the frames whose next use comes soonest
(Belady's rule); a frame behind the decoder that is not cached makes the decoder restart a
cache-length earlier and refill the cache on its way forward.
"""

from __future__ import annotations

import bisect
import heapq
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .media.video import FrameLike

DEFAULT_BUDGET_BYTES = 384 << 20

NEVER = 1 << 62


class ScheduledFrames:
    """Iterate frames ``source[schedule[0]], source[schedule[1]], ...`` (each its own array).

    ``open_frames(start)`` must return an iterator of frames (objects with ``.index`` and
    ``.image``) from source index ``start`` on, like ``VideoSource.frames``.
    """

    def __init__(
        self,
        open_frames: Callable[[int], Iterator[FrameLike]],
        schedule: np.ndarray,
        width: int,
        height: int,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
    ) -> None:
        self.open_frames = open_frames
        self.schedule = np.asarray(schedule, dtype=np.int64)
        self.width, self.height = width, height
        self.budget_bytes = budget_bytes
        self.capacity = self._capacity(width * height * 3 // 2)
        self._sized = False
        self._uses: dict[int, list[int]] = defaultdict(list)
        for pos, idx in enumerate(self.schedule.tolist()):
            self._uses[idx].append(pos)
        self._cache: dict[int, np.ndarray] = {}
        self._heap: list[tuple[int, int]] = []  # (-next_use, index), lazily updated
        self._iter: Iterator[FrameLike] | None = None
        self._next_index = 0  # index the decoder yields next
        self.decoded = 0
        self.restarts = 0

    def _capacity(self, frame_bytes: int) -> int:
        return max(int(self.budget_bytes // max(frame_bytes, 1)), 2)

    def _next_use(self, idx: int, after: int) -> int:
        uses = self._uses.get(idx)
        if not uses:
            return NEVER
        k = bisect.bisect_right(uses, after)
        return uses[k] if k < len(uses) else NEVER

    def _store(self, idx: int, image: np.ndarray, pos: int) -> None:
        nxt = self._next_use(idx, pos)
        if nxt == NEVER:
            return
        if not self._sized:  # the budget counts the frames as they really come
            self.capacity, self._sized = self._capacity(image.nbytes), True
        if idx not in self._cache and len(self._cache) >= self.capacity:
            # Evict the cached frame needed last, if that is later than this one.
            while self._heap:
                neg, victim = self._heap[0]
                if victim not in self._cache or -neg != self._next_use(victim, pos):
                    heapq.heappop(self._heap)
                    if victim in self._cache:
                        heapq.heappush(self._heap, (-self._next_use(victim, pos), victim))
                    continue
                break
            if not self._heap or -self._heap[0][0] <= nxt:
                return
            _, victim = heapq.heappop(self._heap)
            del self._cache[victim]
        self._cache[idx] = image
        heapq.heappush(self._heap, (-nxt, idx))

    def _restart(self, start: int) -> Iterator[FrameLike]:
        if self._iter is not None and hasattr(self._iter, "close"):
            self._iter.close()
        self._iter = it = iter(self.open_frames(start))
        self._next_index = start
        self.restarts += 1
        return it

    def _decode_until(self, idx: int, pos: int) -> np.ndarray:
        it = self._iter
        if it is None or idx < self._next_index:
            it = self._restart(max(0, idx - self.capacity + 1) if it is not None else 0)
        while True:
            frame = next(it, None)
            if frame is None:
                raise EOFError(f"source ended before frame {idx}")
            self.decoded += 1
            self._next_index = frame.index + 1
            if frame.index == idx:
                self._store(idx, frame.image, pos)
                return frame.image
            if frame.index > idx:
                raise EOFError(f"source skipped frame {idx}")
            self._store(frame.index, frame.image, pos - 1)

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            for pos, idx in enumerate(self.schedule.tolist()):
                cached = self._cache.get(idx)
                if cached is not None:
                    if self._next_use(idx, pos) == NEVER:
                        del self._cache[idx]  # its last use: hand over the cached array
                        yield cached
                    else:
                        heapq.heappush(self._heap, (-self._next_use(idx, pos), idx))
                        yield cached.copy()
                else:
                    image = self._decode_until(idx, pos)
                    # A cached frame is handed out as a copy, so callers may draw on theirs.
                    yield image.copy() if idx in self._cache else image
        finally:
            self.close()

    def close(self) -> None:
        if self._iter is not None and hasattr(self._iter, "close"):
            self._iter.close()
        self._iter = None
        self._cache.clear()
        self._heap.clear()
