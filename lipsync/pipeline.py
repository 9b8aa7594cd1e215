"""Overlapping decode, animation and encode on two threads besides the caller.

Decoding and encoding (PyAV/FFmpeg) and OpenCV release the GIL, so a frame can be decoded
while the previous one is animated and the one before is encoded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from .errors import tag_stage

if TYPE_CHECKING:
    import numpy as np

    from .media.writer import VideoWriter

T = TypeVar("T")


class _End:
    """The type of :data:`_END`, the marker a producer queues after its last item."""


_END = _End()

#: What :class:`Prefetch` queues: ``(True, item)`` (or ``(True, _END)``), or ``(False, error)``.
_Entry = tuple[Literal[True], T | _End] | tuple[Literal[False], BaseException]


class Prefetch(Generic[T]):
    """Run an iterator in a background thread, ``depth`` items ahead.

    Decoding (PyAV) and colour conversion release the GIL, so on two cores the next frames
    are decoded while the current one is animated and encoded. Errors are re-raised in the
    consumer; :meth:`close` stops the thread.
    """

    def __init__(self, iterable: Iterable[T], depth: int = 6) -> None:
        self._q: queue.Queue[_Entry[T]] = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._it = iterable
        self._thread = threading.Thread(target=self._run, name="frame-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: _Entry[T]) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._it:
                if not self._put((True, item)):
                    return
            self._put((True, _END))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put((False, exc))
        finally:
            close = getattr(self._it, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        while True:
            entry = self._q.get()
            if not entry[0]:
                raise entry[1]
            item = entry[1]
            if isinstance(item, _End):
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class BackgroundWriter:
    """Feed a :class:`~lipsync.media.writer.VideoWriter` from a thread.

    :meth:`write` queues a frame (blocking when ``depth`` are waiting); :meth:`close` waits
    for the queue and closes the writer; :meth:`abort` drops what is queued and aborts it.
    An error in the thread is re-raised by the next call.
    """

    def __init__(self, writer: VideoWriter, depth: int = 4) -> None:
        self.writer = writer
        self._q: queue.Queue[np.ndarray | _End] = queue.Queue(maxsize=max(depth, 1))
        self._error: BaseException | None = None
        self._abort = threading.Event()
        self._thread = threading.Thread(target=self._run, name="frame-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if isinstance(item, _End) or self._abort.is_set():
                return
            try:
                self.writer.write(item)
            except BaseException as exc:  # handed to the producer, which re-raises it
                tag_stage(exc, "encode")
                self._error = exc
                return

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, image: np.ndarray) -> None:
        while True:
            self._check()
            try:
                self._q.put(image, timeout=0.1)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    self._check()
                    raise RuntimeError("writer thread stopped") from None

    def close(self) -> str:
        self._q.put(_END)
        self._thread.join()
        self._check()
        return self.writer.close()

    def abort(self) -> None:
        self._abort.set()
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        self._q.put(_END)
        self._thread.join(timeout=30)
        self.writer.abort()
