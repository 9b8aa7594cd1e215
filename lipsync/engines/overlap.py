"""Running a neural network one batch ahead of the compositing, on its own thread.

A neural frame pass has two halves per batch: the network (crops to device, forward pass,
results back; on CUDA the CPU mostly waits) and the compositing (resize, mask, blend, hand to
the encoder; CPU work in OpenCV and numpy). Done in turn, the GPU idles while the CPU blends
and the CPU idles while the GPU runs. :func:`ahead` overlaps them: the network works on batch
``k + 1`` while the caller composites batch ``k``. torch and OpenCV release the GIL in their
kernels, so the two halves really run at once; on a CPU-only machine they share the cores,
which still helps because the compositing has single-threaded stretches.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

B = TypeVar("B")
R = TypeVar("R")


def ahead(
    batches: Iterable[B], network: Callable[[B], R], depth: int = 1, name: str = "network"
) -> Iterator[tuple[B, R]]:
    """Yield ``(batch, network(batch))`` in order, with ``depth`` batches computed ahead.

    ``network`` runs on one worker thread, so calls never overlap each other (one model, one
    CUDA stream). An error in ``network`` is raised here, at its batch. When the consumer stops
    early (an error, a cancellation raised while reading ``batches``, ``close()``), the batches
    still in flight are waited for, so no thread outlives the render.
    """
    pending: deque[tuple[B, Future[R]]] = deque()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    try:
        for batch in batches:
            pending.append((batch, pool.submit(network, batch)))
            if len(pending) > depth:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=True)
