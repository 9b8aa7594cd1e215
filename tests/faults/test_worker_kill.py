"""kill -9 of each worker type in the middle of its job: nothing stuck, nothing lost.

One stack for the module: a durable Redis, the reconciler loop, and the workers each test
starts (and kills). The reconciler loop alone notices the dead run (no live worker is there to
help), within the suite's short limits.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rendering.models import RenderTask, TaskStatus
from rendering.services import batches as service
from studio.actor import Actor
from studio.models import MediaStatus, Presenter
from studio.services import library as library_service
from tests.engine.mediagen import make_video

from .conftest import FaultStack, part_files, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

FINAL = {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED}
#: Noticing a kill takes the suite's 8 s worker limit plus a 1 s round; the rest is a busy
#: 2-core machine.
NOTICE_BOUND_S = 30


@pytest.fixture(scope="module")
def stack(fault_stack: FaultStack) -> FaultStack:
    fault_stack.start_reconciler()
    fault_stack.spawn_worker("gpu1", "gpu")
    fault_stack.spawn_worker("cpu1", "cpu")
    fault_stack.wait_registered("gpu1", "cpu1")
    return fault_stack


def test_kill_render_worker_mid_render(stack, library, member, speech_16s):
    audio = library.audio("Sixteen", speech_16s, 16.0)
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project, audios=[audio], presenters=[library.long_presenter]
        ),
    )
    task = batch.tasks.get()
    folder = Path(stack.media) / "outputs" / str(batch.team_id) / str(batch.pk)

    def encoding():
        row = RenderTask.objects.get(pk=task.pk)
        busy = row.status == TaskStatus.RUNNING and row.stage == "render" and row.percent > 15
        return row if busy and part_files(folder) else None

    wait_for(encoding, 120, "the render to be encoding", stack)
    left_behind = part_files(folder)
    stack.kill("gpu1")
    killed_at = time.monotonic()
    stack.spawn_worker("gpu2", "gpu")  # what supervise.py does; it may take the task at once

    def noticed():
        row = RenderTask.objects.get(pk=task.pk)
        return row if (row.status, row.worker_name) != (TaskStatus.RUNNING, "gpu1") else None

    requeued = wait_for(noticed, NOTICE_BOUND_S, "the render to be taken for lost", stack)
    noticed_s = time.monotonic() - killed_at
    assert requeued.status in (TaskStatus.QUEUED, TaskStatus.RUNNING), stack.logs()
    assert "gpu1 stopped responding" in requeued.error_message
    assert "attempt 2 of 3" in requeued.error_message
    if requeued.status == TaskStatus.QUEUED:
        assert requeued.percent == 0 and requeued.eta_s is None, "an honest bar: from the start"
    assert not any(p.exists() for p in left_behind), "the killed run's part file is removed"

    done = wait_for(
        lambda: (lambda r: r if r.status in FINAL else None)(RenderTask.objects.get(pk=task.pk)),
        180,
        "the render to finish on the new worker",
        stack,
    )
    assert done.status == TaskStatus.SUCCEEDED, stack.logs()
    assert done.attempts == 2 and done.worker_name == "gpu2" and done.error is None
    assert part_files(Path(stack.media)) == []
    videos = sorted(p.name for p in folder.glob("*.mp4"))
    assert videos == [Path(done.output.file.name).name], "one finished file, nothing partial"
    print(f"kill -9 of a render worker noticed after {noticed_s:.1f} s")


def test_kill_cpu_worker_mid_face_check(stack, media_root, team, member, tmp_path):
    clip = tmp_path / "long-talk.mp4"
    make_video(clip, seconds=30, size=(320, 240), seed=7)
    presenter = library_service.create_presenter(
        Actor.of(member), team, str(clip), "long-talk.mp4", move=False
    )
    wait_for(
        lambda: Presenter.objects.filter(
            pk=presenter.pk, status=MediaStatus.PROCESSING, job_started_at__isnull=False
        ).exists(),
        60,
        "the face check to start",
        stack,
    )
    stack.kill("cpu1")
    killed_at = time.monotonic()
    stack.spawn_worker("cpu2", "cpu")
    row = wait_for(
        lambda: Presenter.objects.filter(pk=presenter.pk, job_attempts=2).first(),
        NOTICE_BOUND_S,
        "the reconciler to send the lost check again",
        stack,
    )
    noticed_s = time.monotonic() - killed_at
    assert row.status == MediaStatus.PROCESSING, "queued again, not failed: it can still work"
    assert "was interrupted" in row.error_text and "attempt 2 of 2" in row.error_text

    done = wait_for(
        lambda: (
            Presenter.objects.exclude(status=MediaStatus.PROCESSING).filter(pk=presenter.pk).first()
        ),
        120,
        "the face check to end on the new worker",
        stack,
    )
    if done.status != MediaStatus.READY:
        print(stack.logs())
    assert done.status == MediaStatus.READY and done.error is None, done.error_text
    assert done.job_worker == "cpu2" and done.thumbnail
    print(f"kill -9 of a cpu worker noticed after {noticed_s:.1f} s")
