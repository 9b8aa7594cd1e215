"""Overlapping decode, animation and encode on two threads besides the caller.

Decoding and encoding (PyAV/FFmpeg) and OpenCV release the GIL, so a frame can be decoded
while the previous one is animated and the one before is encoded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable


class Prefetch:
    """Run an iterator in a background thread, ``depth`` items ahead.

    Decoding (PyAV) and colour conversion release the GIL, so on two cores the next frames
    are decoded while the current one is animated and encoded. Errors are re-raised in the
    consumer; :meth:`close` stops the thread.
    """

    _END = object()

    def __init__(self, iterable: Iterable, depth: int = 6) -> None:
        self._q: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._it = iterable
        self._thread = threading.Thread(target=self._run, name="frame-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
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
            self._put((True, self._END))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put((False, exc))
        finally:
            close = getattr(self._it, "close", None)
            if close is not None:
                close()

    def __iter__(self):
        while True:
            ok, item = self._q.get()
            if not ok:
                raise item
            if item is self._END:
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

    _END = object()

    def __init__(self, writer, depth: int = 4) -> None:
        self.writer = writer
        self._q: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._error: BaseException | None = None
        self._abort = threading.Event()
        self._thread = threading.Thread(target=self._run, name="frame-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is self._END or self._abort.is_set():
                return
            try:
                self.writer.write(item)
            except BaseException as exc:  # handed to the producer, which re-raises it
                self._error = exc
                return

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, image) -> None:
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
        self._q.put(self._END)
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
        self._q.put(self._END)
        self._thread.join(timeout=30)
        self.writer.abort()
