"""The RQ worker of HeyGem Studio: no fork per job, one resident engine per process.

``python manage.py rqworker gpu`` (settings ``RQ["WORKER_CLASS"]``) runs :class:`StudioWorker`.
Jobs run inside the worker process, so an engine built for the first job (weights, CUDA
context) serves every later job; each process is bound to one device, ``LIPSYNC_DEVICE``
(``cuda:0``, ``cpu`` or ``auto``).

While a job runs, a non-forking worker sends no heartbeat of its own: a helper thread
(:class:`JobPulse`) calls :meth:`StudioWorker.beat` every ``PROGRESS_HEARTBEAT_INTERVAL_S``
for the whole run of every job (renders call :meth:`StudioWorker.keep_alive` from their
progress callback too), and the worker's Redis hash names the job it runs
(``studio_job``, :data:`studio.recovery.CURRENT_JOB_FIELD`): that is how the reconcilers tell
a live run from a lost one (:mod:`studio.recovery`). Every ``RECONCILE_INTERVAL_S`` seconds,
between jobs and from a running render's progress, the worker runs every registered
reconciler (one worker at a time, by a Redis lock).

Redis going away does not stop a worker: a render keeps rendering (its progress goes to the
database; heartbeats and websocket messages are skipped meanwhile), RQ's bookkeeping of a job
that ends during the outage is given up (the row already says how it ended), and the worker
waits for Redis with RQ's back-off. When Redis is back, redis-py reconnects, the worker
registers itself again if its hash was lost (so dashboards show it), and restarts its RQ
scheduler process (delayed retries) if that one died of the outage.

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
from rq import worker_registration
from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker

from lipsync.engines import Engine, get_engine
from lipsync.errors import LipsyncError
from studio import recovery
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


class JobPulse:
    """Keeps a worker's heartbeat going from a helper thread while one job runs, whatever the
    job reports (a face check, a webhook call and an engine load report no progress). It only
    beats (two Redis writes), so the beats stay regular; the reconcilers run from the job's
    own progress (:meth:`StudioWorker.keep_alive`) and between jobs.

    A job that hangs keeps beating: RQ's job time limit ends it (and a render whose own
    progress stops is taken for lost after ``RENDER_HUNG_AFTER_S``, :mod:`rendering.reconcile`).
    """

    def __init__(self, worker: StudioWorker, job: Job, interval_s: float) -> None:
        self.worker = worker
        self.job = job
        self.interval_s = max(0.2, interval_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-pulse", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.worker.beat(self.job)

    def __enter__(self) -> JobPulse:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class StudioWorker(SimpleWorker):
    """A :class:`rq.SimpleWorker` that keeps engines resident and reconciles dead tasks."""

    #: Longest pause between tries while Redis is away (RQ's default is 60 s): a worker is
    #: back at work within this long of Redis.
    max_connection_wait_time = 5.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._in_job = False
        self._last_reconcile = 0.0
        self._current_job_id: str | None = None
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
        if QueueName.GPU in self.queue_names():
            self._sweep_part_files()
        log.info(
            "worker %s bound to device %s (queues: %s)",
            self.name,
            self.device,
            ", ".join(self.queue_names()),
        )
        # Retries with a delay wait in the ScheduledJobRegistry: someone must move them back.
        kwargs["with_scheduler"] = True
        return super().work(*args, **kwargs)

    def _sweep_part_files(self) -> None:
        """Remove part files that renders killed before (e.g. this worker's last life) left."""
        from .reconcile import sweep_part_files

        try:
            removed = sweep_part_files()
        except (DatabaseError, OSError) as exc:
            log.warning("worker %s: part files not swept (%s)", self.name, exc)
            return
        finally:
            close_old_connections()
        if removed:
            log.info("worker %s: removed %d part file(s) of lost renders", self.name, removed)

    def execute_job(self, job: Job, queue: Queue) -> None:
        global _current_worker
        close_old_connections()
        self._in_job = True
        _current_worker = self
        self._say_current_job(job.id)
        try:
            with JobPulse(self, job, settings.PROGRESS_HEARTBEAT_INTERVAL_S):
                super().execute_job(job, queue)
        except RedisError as exc:
            # RQ could not record how the job ended (Redis went away meanwhile). The job's row
            # already says it; the reconcilers judge the rest. The worker stays up.
            log.warning("job %s: RQ could not record its end (%s); Redis is away", job.id, exc)
        finally:
            _current_worker = None
            self._in_job = False
            self._say_current_job(None)
            close_old_connections()

    def _say_current_job(self, job_id: str | None) -> None:
        """Name the running job in the worker's hash (:mod:`studio.recovery`)."""
        try:
            if job_id:
                self.connection.hset(self.key, recovery.CURRENT_JOB_FIELD, job_id)
            else:
                self.connection.hdel(self.key, recovery.CURRENT_JOB_FIELD)
        except RedisError as exc:
            log.warning("worker %s: current job not recorded (%s)", self.name, exc)
        self._current_job_id = job_id

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

    def _ensure_registered(self) -> None:
        """Keep this worker's Redis hash true: the job it runs (a write missed while Redis was
        away is made good), and the whole record when Redis lost it (a restart from an older
        snapshot, a flush): the dashboards list workers from it, the reconcilers read it."""
        with self.connection.pipeline() as pipeline:
            pipeline.hexists(self.key, "birth")
            pipeline.hset(self.key, "state", str(self._state))
            if self._current_job_id:
                pipeline.hset(self.key, recovery.CURRENT_JOB_FIELD, self._current_job_id)
            else:
                pipeline.hdel(self.key, recovery.CURRENT_JOB_FIELD)
            registered = pipeline.execute()[0]
        if registered:
            return
        log.warning("worker %s: its Redis record was lost; registering again", self.name)
        with self.connection.pipeline() as pipeline:
            pipeline.hset(self.key, mapping=self.serialize())
            worker_registration.register(self, pipeline)
            if self.device:
                pipeline.hset(self.key, "device", device_label(self.device))
            if self._current_job_id:
                pipeline.hset(self.key, recovery.CURRENT_JOB_FIELD, self._current_job_id)
            pipeline.expire(self.key, self.worker_ttl + 60)
            pipeline.execute()

    def _ensure_scheduler(self) -> None:
        """RQ's scheduler process (it moves delayed retries back into the queues) dies when
        Redis goes away; start it again instead of waiting for RQ's 10-minute maintenance."""
        scheduler = self.scheduler
        if scheduler is None or (scheduler._process is not None and scheduler._process.is_alive()):
            return
        scheduler.acquire_locks(auto_start=True)

    def beat(self, job: Job) -> bool:
        """Extend the worker key, the execution and the job's registry entry (during a job);
        False if Redis is away (a log line, the job goes on)."""
        try:
            execution = self.execution
            if execution is None:
                super().heartbeat()
            else:
                self.maintain_heartbeats(job, execution)
            self._ensure_registered()
        except RedisError as exc:
            log.warning("worker %s: heartbeat skipped, Redis away (%s)", self.name, exc)
            return False
        return True

    def keep_alive(self, job: Job) -> None:
        """:meth:`beat`, called from a job's progress; also gives the reconcilers their turn,
        so a dead worker's task is noticed even while every live worker is busy with a long
        render."""
        if self.beat(job):
            self.maybe_reconcile()

    def set_state(self, state: str, pipeline=None) -> None:
        if pipeline is not None:
            super().set_state(state, pipeline=pipeline)
            return
        try:
            super().set_state(state)
        except RedisError as exc:  # kept in memory; the next heartbeat writes it
            log.warning("worker %s: state not recorded, Redis away (%s)", self.name, exc)

    def check_for_suspension(self, burst: bool) -> None:
        # Between jobs RQ asks Redis whether workers are suspended; with Redis away that would
        # end the worker. The dequeue that follows waits for Redis with back-off instead.
        try:
            super().check_for_suspension(burst)
        except RedisError as exc:
            log.warning("worker %s: suspension not checked, Redis away (%s)", self.name, exc)

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()
        except RedisError as exc:
            log.warning("worker %s: maintenance skipped, Redis away (%s)", self.name, exc)

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            return
        try:
            if not self._in_job:
                # Before RQ renews the hash's expiry: a field written after could outlive it.
                self.report_models()
            super().heartbeat(timeout)
            self._ensure_registered()
            if not self._in_job:
                self._ensure_scheduler()
        except RedisError as exc:
            # Waiting for a job, RQ's own loop retries with back-off; right after a job, this
            # would end the worker.
            log.warning("worker %s: heartbeat skipped, Redis away (%s)", self.name, exc)
            return
        if not self._in_job:
            self.maybe_reconcile()

    def maybe_reconcile(self) -> None:
        interval = float(settings.RECONCILE_INTERVAL_S)
        now = time.monotonic()
        if now - self._last_reconcile < interval:
            return
        self._last_reconcile = now
        lock_ttl = max(1, int(interval) - 1)
        try:
            if not self.connection.set("studio:reconcile:lock", self.name, nx=True, ex=lock_ttl):
                return
        except RedisError as exc:
            log.warning("reconciler round skipped, Redis away (%s)", exc)
            return
        if not self._in_job:
            close_old_connections()
        try:
            recovery.run_all()
        finally:
            if not self._in_job:
                close_old_connections()
