"""The RQ worker of HeyGem Studio: no fork per job, one resident engine per process.

``python manage.py rqworker gpu`` (settings ``RQ["WORKER_CLASS"]``) runs :class:`StudioWorker`.
Jobs run inside the worker process, so an engine built for the first job (weights, CUDA
context) serves every later job; each process is bound to one device, ``LIPSYNC_DEVICE``
(``cuda:0``, ``cpu`` or ``auto``).

While a job runs a non-forking worker sends no heartbeat of its own: the render calls
:meth:`StudioWorker.keep_alive` from its progress callback. Between jobs the worker wakes every
``RECONCILE_INTERVAL_S`` seconds and runs the reconciler (one worker at a time, by a Redis
lock), which re-queues or fails the tasks of workers that died.

Each worker also publishes what its model folder lets it run (``report_models``: at start and
on every idle heartbeat, into its own RQ hash) for the "Engines and models" page: render
workers may run on other hosts with other model folders.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from redis.exceptions import RedisError
from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker

from lipsync.engines import Engine, get_engine
from lipsync.errors import LipsyncError
from studio.queues import QueueName
from studio.services.storage import media_store_problem

log = logging.getLogger("rendering.worker")

_engines: dict[tuple[str, str], Engine] = {}
_engines_lock = threading.Lock()
#: Engines this process has built (a reload would show as a second load of the same name).
engine_loads = 0
_current_worker: StudioWorker | None = None


def worker_device() -> str:
    """The device this process renders on: ``LIPSYNC_DEVICE`` resolved ('auto' -> cuda:0/cpu)."""
    from lipsync.device import resolve_device

    spec = settings.LIPSYNC_DEVICE

    return str(resolve_device(spec))


def device_label(device: str) -> str:
    """What the dashboard shows for a worker: ``cpu``, or ``cuda:0 (NVIDIA H100 80GB HBM3)``."""
    if device.startswith("cuda"):
        import torch

        index = torch.device(device).index or 0
        return f"{device} ({torch.cuda.get_device_name(index)})"
    return device


def resident_engine(name: str, device: str | None = None) -> Engine:
    """This process's engine ``name`` on ``device``, built on first use and kept after."""
    global engine_loads
    device = device or worker_device()
    key = (name, device)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            started = time.monotonic()
            engine = get_engine(name, device=device, cache_dir=settings.LIPSYNC_CACHE_DIR)
            _engines[key] = engine
            engine_loads += 1
            log.info(
                "engine %s loaded on %s (load #%d, %.1f s)",
                name,
                device,
                engine_loads,
                time.monotonic() - started,
            )
        else:
            log.info(
                "engine %s reused on %s (loads so far: %d, no reload)", name, device, engine_loads
            )
        return engine


def current_worker() -> StudioWorker | None:
    """The worker running the current job in this process, if any."""
    return _current_worker


class StudioWorker(SimpleWorker):
    """A :class:`rq.SimpleWorker` that keeps engines resident and reconciles dead tasks."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._in_job = False
        self._last_reconcile = 0.0
        self.device: str | None = None

    @property
    def dequeue_timeout(self) -> int:
        # Wake up regularly while idle so the reconciler runs even on a quiet queue.
        return max(1, int(settings.RECONCILE_INTERVAL_S))

    def work(self, *args, **kwargs) -> bool:
        # Bind the process to its device first: a worker told to use a GPU it does not have
        # must refuse to start, not fail every job it takes.
        if set(self.queue_names()) <= {QueueName.CPU, "default"}:
            self.device = "cpu"  # preparation, thumbnails, waveforms: no render engine here
        else:
            try:
                self.device = worker_device()
            except (LipsyncError, ValueError) as exc:
                raise SystemExit(f"worker {self.name}: LIPSYNC_DEVICE: {exc}") from exc
        # A render worker on another host without the shared media directory would fail
        # every job (cpu workers run on the web host).
        problem = media_store_problem() if QueueName.GPU in self.queue_names() else None
        if problem:
            raise SystemExit(f"worker {self.name}: {problem}")
        log.info(
            "worker %s bound to device %s (queues: %s)",
            self.name,
            self.device,
            ", ".join(self.queue_names()),
        )
        # Retries with a delay wait in the ScheduledJobRegistry: someone must move them back.
        kwargs["with_scheduler"] = True
        return super().work(*args, **kwargs)

    def execute_job(self, job: Job, queue: Queue) -> None:
        global _current_worker
        close_old_connections()
        self._in_job = True
        _current_worker = self
        try:
            super().execute_job(job, queue)
        finally:
            _current_worker = None
            self._in_job = False
            close_old_connections()

    def register_birth(self, *args, **kwargs) -> None:
        super().register_birth(*args, **kwargs)
        # Stored in the worker's own hash, so it disappears with the worker.
        if self.device:
            self.connection.hset(self.key, "device", device_label(self.device))
        self.report_models()

    def report_models(self) -> None:
        """Publish what this host's model folder lets it run (``services.engines``)."""
        from .services.engines import MODELS_FIELD, worker_report

        try:
            report = worker_report()
        except OSError as exc:  # an unreadable model folder (a lost mount): say so, keep working
            log.warning("worker %s: model folder not readable: %s", self.name, exc)
            return
        self.connection.hset(self.key, MODELS_FIELD, json.dumps(report))

    def keep_alive(self, job: Job) -> None:
        """Extend the worker key, the execution and the job's registry entry (from a job).

        Also gives the reconciler its turn, so a dead worker's task is noticed even while
        every live worker is busy with a long render.
        """
        execution = self.execution
        if execution is None:
            super().heartbeat()
        else:
            self.maintain_heartbeats(job, execution)
        self.maybe_reconcile()

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        if pipeline is None and not self._in_job:
            # Before RQ renews the hash's expiry: a field written after could outlive it.
            self.report_models()
        super().heartbeat(timeout, pipeline=pipeline)
        if pipeline is None and not self._in_job:
            self.maybe_reconcile()

    def maybe_reconcile(self) -> None:
        interval = float(settings.RECONCILE_INTERVAL_S)
        now = time.monotonic()
        if now - self._last_reconcile < interval:
            return
        self._last_reconcile = now
        lock_ttl = max(1, int(interval) - 1)
        if not self.connection.set("studio:reconcile:lock", self.name, nx=True, ex=lock_ttl):
            return
        from .reconcile import reconcile

        if not self._in_job:
            close_old_connections()
        try:
            reconcile(connection=self.connection)
        except (DatabaseError, RedisError):
            # The next round tries again; a dead worker loop would help nobody.
            log.exception("reconciler round failed")
        finally:
            if not self._in_job:
                close_old_connections()
