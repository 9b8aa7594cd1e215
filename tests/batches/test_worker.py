"""The render job run by a real StudioWorker (in this process, burst mode, real Redis).

The worker does not fork, so running it here is the real thing minus process isolation; the
end-to-end test runs it as a separate process.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import av
import django_rq
import pytest
from rq.job import Job

from rendering import worker as worker_module
from rendering.models import BatchStatus, MediaAsset, RenderTask, TaskStatus
from rendering.services import batches as service
from studio.actor import Actor

SYSTEM = Actor.system("tests")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fresh_worker_state(monkeypatch, settings):
    """No engine resident yet; renders on the CPU."""
    settings.LIPSYNC_DEVICE = "cpu"
    monkeypatch.setattr(worker_module, "_engines", {})
    monkeypatch.setattr(worker_module, "engine_loads", 0)
    settings.RENDER_RETRY_INTERVALS_S = [0]


def run_worker(*queues: str):
    worker = django_rq.get_worker(*(queues or ("gpu", "cpu")))
    assert isinstance(worker, worker_module.StudioWorker)
    worker.work(burst=True)
    return worker


def submit(member, library, presenters, audio=None, **kw):
    spec = service.BatchSpec(
        project=library.project, audios=[audio or library.hello], presenters=presenters, **kw
    )
    return service.create_batch(Actor.of(member), spec)


def _playable(path) -> tuple[int, bool]:
    with av.open(str(path)) as container:
        has_audio = bool(container.streams.audio)
        frames = sum(1 for _ in container.decode(video=0))
    return frames, has_audio


def test_batch_renders_good_presenters_and_fails_the_broken_one(
    use_redis, library, member, fresh_worker_state, caplog
):
    caplog.set_level(logging.INFO, logger="rendering.worker")
    batch = submit(member, library, [library.anna, library.bo, library.broken])
    run_worker()
    tasks = {t.presenter_name: t for t in batch.tasks.all()}
    assert tasks["安娜 Anna"].status == TaskStatus.SUCCEEDED
    assert tasks["Bo"].status == TaskStatus.SUCCEEDED
    broken = tasks["Broken"]
    assert broken.status == TaskStatus.FAILED
    assert broken.error_message.startswith("broken.mp4: "), (
        "the user's file name, not the stored one"
    )
    assert "not a media file" in broken.error_message
    assert "Traceback" in broken.traceback
    assert broken.attempts == 1, "bad input is not retried"
    job = Job.fetch(broken.rq_job_id, connection=django_rq.get_connection("gpu"))
    assert job.is_failed and not job.retries_left
    for name in ("安娜 Anna", "Bo"):
        task = tasks[name]
        assert task.percent == 100.0 and task.started_at and task.finished_at
        assert task.device == "cpu" and task.worker_name
        asset = task.output
        assert asset.download_name == f"{name}__问候 Hello.mp4"
        assert asset.size_bytes == os.path.getsize(asset.path) > 0
        frames, has_audio = _playable(asset.path)
        assert has_audio and frames == round(1.5 * 25)
        assert asset.thumbnail, "the cpu queue made a thumbnail"
    # One engine for the whole batch: the second render did not load it again.
    assert {t.worker_model_loads for t in tasks.values() if t.status == "succeeded"} == {1}
    assert worker_module.engine_loads == 1
    assert "engine warp loaded on cpu (load #1" in caplog.text
    assert "engine warp reused on cpu" in caplog.text
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PARTIAL and batch.finished_at


def test_transient_failure_is_retried(use_redis, library, member, fresh_worker_state, monkeypatch):
    from lipsync.engines.warp import WarpEngine

    real_render = WarpEngine.render
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real_render(self, *args, **kwargs)

    monkeypatch.setattr(WarpEngine, "render", flaky)
    batch = submit(member, library, [library.bo])
    run_worker()
    task = batch.tasks.get()
    assert len(calls) == 2
    assert task.status == TaskStatus.SUCCEEDED and task.attempts == 2
    assert task.error_message == ""


def test_retry_waits_its_interval_in_the_scheduler(
    use_redis, library, member, fresh_worker_state, settings, monkeypatch
):
    """With a retry interval the job waits in RQ's scheduled registry; the worker's scheduler
    (always on in StudioWorker) brings it back once the interval has passed."""
    from lipsync.engines.warp import WarpEngine

    settings.RENDER_RETRY_INTERVALS_S = [1]
    real_render = WarpEngine.render
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk hiccup (simulated)")
        return real_render(self, *args, **kwargs)

    monkeypatch.setattr(WarpEngine, "render", flaky)
    batch = submit(member, library, [library.bo])
    run_worker("gpu")
    task = batch.tasks.get()
    assert task.status == TaskStatus.QUEUED and "trying again" in task.error_message
    job = Job.fetch(task.rq_job_id, connection=django_rq.get_connection("gpu"))
    assert job.get_status() == "scheduled"
    time.sleep(1.5)
    run_worker("gpu")
    task.refresh_from_db()
    assert task.status == TaskStatus.SUCCEEDED and task.attempts == 2 and len(calls) == 2


def test_job_timeout_fails_without_retry(use_redis, library, member, fresh_worker_state, settings):
    settings.RENDER_TIMEOUT_BASE_S = 1
    settings.RENDER_TIMEOUT_PER_AUDIO_S = 0
    settings.RENDER_TIMEOUT_PER_PRESENTER_S = 0
    batch = submit(member, library, [library.long_presenter], audio=library.long_audio)
    run_worker("gpu")
    task = batch.tasks.get()
    assert task.status == TaskStatus.FAILED and task.attempts == 1
    assert "time limit of 1 seconds" in task.error_message
    assert not os.listdir(
        os.path.join(settings.MEDIA_ROOT, "outputs", str(batch.team_id), str(batch.pk))
    )


def test_cancel_running_task_stops_and_leaves_no_file(
    use_redis, library, member, fresh_worker_state, settings
):
    batch = submit(member, library, [library.long_presenter], audio=library.long_audio)
    task = batch.tasks.get()
    seen = {}

    def cancel_when_rendering():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = RenderTask.objects.get(pk=task.pk)
            if row.status == TaskStatus.RUNNING and row.stage == "render" and row.percent > 15:
                seen["percent"] = row.percent
                service.cancel_task(SYSTEM, row)
                return
            time.sleep(0.05)

    canceller = threading.Thread(target=cancel_when_rendering)
    canceller.start()
    run_worker("gpu")
    canceller.join()
    task.refresh_from_db()
    assert seen, "the render never got going"
    assert task.status == TaskStatus.CANCELLED, task.error_message
    assert task.output is None and not MediaAsset.objects.exists()
    folder = os.path.join(settings.MEDIA_ROOT, "outputs", str(batch.team_id), str(batch.pk))
    assert os.listdir(folder) == [], "no partial file"


def test_superseded_job_does_nothing(use_redis, library, member, fresh_worker_state):
    batch = submit(member, library, [library.bo])
    task = batch.tasks.get()
    RenderTask.objects.filter(pk=task.pk).update(rq_job_id="someone-else")
    run_worker("gpu")
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED and task.attempts == 0
    assert worker_module.engine_loads == 0


def test_render_keeps_worker_and_job_alive_from_its_progress(
    use_redis, library, member, fresh_worker_state, settings, monkeypatch
):
    """A non-forking worker sends no heartbeat while a job runs: the progress callback does,
    extending the worker key and the job's started-registry entry."""
    from rq.registry import StartedJobRegistry

    settings.PROGRESS_HEARTBEAT_INTERVAL_S = 0.0
    conn = django_rq.get_connection("gpu")
    seen = []
    real_keep_alive = worker_module.StudioWorker.keep_alive

    def spy(self, job):
        before = conn.hget(self.key, "last_heartbeat")
        real_keep_alive(self, job)
        registry = StartedJobRegistry("gpu", connection=conn)
        scores = [
            score
            for member_, score in conn.zrange(registry.key, 0, -1, withscores=True)
            if member_.decode().startswith(job.id)
        ]
        seen.append((before, conn.hget(self.key, "last_heartbeat"), scores, conn.ttl(self.key)))

    monkeypatch.setattr(worker_module.StudioWorker, "keep_alive", spy)
    batch = submit(member, library, [library.bo])
    run_worker("gpu")
    assert batch.tasks.get().status == TaskStatus.SUCCEEDED
    assert len(seen) >= 3
    assert all(scores and scores[0] > time.time() for _, _, scores, _ in seen)
    assert seen[-1][1] >= seen[0][1], "the worker's last_heartbeat moves on"
    assert all(ttl > 0 for *_, ttl in seen)


def test_worker_without_the_gpu_it_was_told_to_use_refuses_to_start(use_redis, settings):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    settings.LIPSYNC_DEVICE = "cuda:0"
    with pytest.raises(SystemExit, match="LIPSYNC_DEVICE: device cuda:0: CUDA is not available"):
        django_rq.get_worker("gpu").work(burst=True)
    cpu_worker = django_rq.get_worker("cpu")
    cpu_worker.work(burst=True)
    assert cpu_worker.device == "cpu"


def test_slow_engine_load_still_sends_heartbeats(
    use_redis, library, member, fresh_worker_state, settings, monkeypatch
):
    """Building an engine reports no progress; a helper thread beats meanwhile."""
    settings.PROGRESS_HEARTBEAT_INTERVAL_S = 1.0
    real_get_engine = worker_module.get_engine
    load = {}

    def slow_get_engine(*args, **kwargs):
        load["start"] = time.time()
        time.sleep(2.6)
        load["end"] = time.time()
        return real_get_engine(*args, **kwargs)

    beats = []
    real_keep_alive = worker_module.StudioWorker.keep_alive

    def spy(self, job):
        beats.append(time.time())
        real_keep_alive(self, job)

    monkeypatch.setattr(worker_module, "get_engine", slow_get_engine)
    monkeypatch.setattr(worker_module.StudioWorker, "keep_alive", spy)
    batch = submit(member, library, [library.bo])
    run_worker("gpu")
    assert batch.tasks.get().status == TaskStatus.SUCCEEDED
    during = [b for b in beats if load["start"] < b < load["end"]]
    assert len(during) >= 2, (beats, load)


def test_busy_worker_still_runs_the_reconciler(
    use_redis, library, member, fresh_worker_state, settings, monkeypatch
):
    """A dead worker's task must be noticed even when every live worker is rendering."""
    import rendering.reconcile

    settings.RECONCILE_INTERVAL_S = 0
    settings.PROGRESS_HEARTBEAT_INTERVAL_S = 0.0
    calls = []
    real = rendering.reconcile.reconcile

    def spy(*args, **kwargs):
        calls.append(worker_module.current_worker() is not None)
        # release the one-worker-at-a-time lock at once, so the next turn is not skipped
        django_rq.get_connection("gpu").delete("studio:reconcile:lock")
        return real(*args, **kwargs)

    monkeypatch.setattr(rendering.reconcile, "reconcile", spy)
    submit(member, library, [library.bo])
    run_worker("gpu")
    assert True in calls, "reconciled from inside a running job"


def test_a_worker_whose_record_redis_lost_registers_again(use_redis):
    """Issue 9 item 6: after Redis came back without the worker's record (an older snapshot,
    a flush), the worker was missing from the dashboard until restarted. Its next heartbeat
    registers it again."""
    from rq import Worker

    from rendering.services.queue_status import queue_overview

    worker = django_rq.get_worker("cpu")
    worker.device = "cpu"
    worker.register_birth()
    conn = django_rq.get_connection("cpu")
    conn.delete(worker.key)
    conn.srem("rq:workers", worker.key)
    conn.srem("rq:workers:cpu", worker.key)
    assert worker.name not in {w.name for w in Worker.all(connection=conn)}
    worker.heartbeat()
    assert worker.name in {w.name for w in Worker.all(connection=conn)}
    assert conn.hget(worker.key, "device") == b"cpu"
    assert worker.name in {w.name for w in queue_overview()[1]}
