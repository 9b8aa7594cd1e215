"""Fair share across teams: a team with 50 renders does not starve a team with one.

Rule (rendering/lifecycle.py, "fair share"): each team keeps at most RENDER_QUEUED_PER_TEAM
tasks in the gpu queue, the rest wait in its backlog; a start or an end refills the team's
places. Previews skip the per-team limit and go to the front; TEAM_MAX_CONCURRENT_RENDERS caps
queued + running per team.

The first tests take the real gpu queue (real Redis) the way a worker does: pop the next job,
claim its task. The last one runs a real ``manage.py rqworker gpu`` process rendering real
tasks.
"""

from __future__ import annotations

import subprocess
import sys
import time
from types import SimpleNamespace

import django_rq
import pytest

from rendering import lifecycle
from rendering.models import MediaAsset, RenderTask, TaskStatus
from rendering.reconcile import reconcile
from rendering.services import batches as service
from studio.actor import Actor
from studio.models import AudioTrack, MediaStatus, Presenter, Project
from tests.conftest import REPO


@pytest.fixture
def teams(library, member, other_team, outsider, clip_files):
    """Team A (``team``): 10 presenters x 5 audio tracks; team B (``other_team``): one of
    each. Same small clips everywhere (the face track is cached after the first render)."""
    presenters_a = [library.presenter(f"A{i}", clip_files.bo, 1.2) for i in range(10)]
    audios_a = [library.hello] + [library.audio(f"a{i}", clip_files.hello, 1.5) for i in range(4)]
    project_b = Project.objects.create(team=other_team, name="B", created_by=outsider)
    audio_b = AudioTrack.objects.create(
        project=project_b,
        name="b",
        file=library.put(clip_files.hello, "audio"),
        size_bytes=1,
        duration_s=1.5,
        status=MediaStatus.READY,
        created_by=outsider,
    )
    presenter_file = library.put(clip_files.bo, "presenters")
    presenters_b = [
        Presenter.objects.create(
            team=other_team,
            name=f"B{i}",
            file=presenter_file,
            size_bytes=1,
            duration_s=1.2,
            width=320,
            height=240,
            fps=25.0,
            status=MediaStatus.READY,
            created_by=outsider,
        )
        for i in range(10)
    ]
    return SimpleNamespace(
        a=lambda n=50, preview=False: _submit(
            member, library.project, audios_a, presenters_a, n, preview
        ),
        b=lambda n=1, preview=False: _submit(
            outsider, project_b, [audio_b], presenters_b, n, preview
        ),
        team_a=library.project.team.pk,
        team_b=other_team.pk,
    )


def _submit(user, project, audios, presenters, n, preview):
    if preview:
        audios, presenters = audios[:1], presenters[:1]
    else:
        per_audio = max(1, n // len(presenters))
        audios, presenters = audios[:per_audio], presenters[: n // per_audio]
    spec = service.BatchSpec(project=project, audios=audios, presenters=presenters, preview=preview)
    batch = service.create_batch(Actor.of(user), spec)
    assert batch.tasks.count() == (1 if preview else n)
    return batch


def _start_next() -> RenderTask:
    """What a worker does: take the gpu queue's next job and claim its task."""
    queue = django_rq.get_queue("gpu")
    job = queue.dequeue_any([queue], None, connection=queue.connection)
    assert job is not None, "the gpu queue is empty"
    job, _ = job
    task = lifecycle.claim(job.args[0], job.id, worker="w", device="cpu")
    assert task is not None
    return task


def _finish(task: RenderTask) -> None:
    asset = MediaAsset.objects.create(
        team=task.batch.team, batch=task.batch, task=task, title="t", file="outputs/x.mp4"
    )
    assert lifecycle.succeed(task, task.rq_job_id, asset, 25.0)


@pytest.fixture
def scheduler(use_redis, transactional_db, settings):
    settings.RENDER_QUEUED_PER_TEAM = 2
    settings.TEAM_MAX_CONCURRENT_RENDERS = 0
    return django_rq.get_queue("gpu")


def test_one_task_of_a_small_team_starts_third_after_fifty_of_a_big_one(scheduler, teams):
    big = teams.a(50)
    assert scheduler.count == 2, "a team holds two places in the queue; 48 wait in its backlog"
    assert lifecycle.backlog().filter(batch=big).count() == 48
    small = teams.b(1)
    assert scheduler.count == 3
    starts = []
    for _ in range(6):
        task = _start_next()
        starts.append(task.batch.team_id)
        _finish(task)
    assert starts.index(teams.team_b) == 2, starts
    assert small.tasks.get().status == TaskStatus.SUCCEEDED
    # Without the rule it would have been start number 51.
    assert big.tasks.filter(status=TaskStatus.SUCCEEDED).count() == 5


def test_two_busy_teams_take_turns(scheduler, teams):
    teams.a(50)
    teams.b(10)
    starts = []
    for _ in range(16):
        task = _start_next()
        starts.append("A" if task.batch.team_id == teams.team_a else "B")
        _finish(task)
    # Each window of four starts holds two of each team.
    for i in range(0, 16, 4):
        assert sorted(starts[i : i + 4]) == ["A", "A", "B", "B"], starts


def test_previews_still_jump_ahead(scheduler, teams):
    teams.a(50)
    teams.b(5)
    preview = teams.a(preview=True)
    task = _start_next()
    assert task.batch_id == preview.pk, "a preview is the next render to start"
    assert scheduler.count == 4, "it skipped its team's limit without taking a place"


def test_concurrent_renders_per_team_are_capped_by_scheduling(scheduler, teams, settings):
    settings.TEAM_MAX_CONCURRENT_RENDERS = 1
    big = teams.a(5)
    teams.b(1)
    assert scheduler.count == 2, "one of each team"
    first = _start_next()
    assert first.batch_id == big.pk
    second = _start_next()
    assert second.batch.team_id == teams.team_b
    assert scheduler.count == 0, "A runs one render: its next waits, though workers are free"
    assert lifecycle.render_slots(teams.team_a) == lifecycle.RenderSlots(
        backlog=4, waiting=0, running=1, limit=1
    )
    _finish(first)
    assert scheduler.count == 1, "its end lets the next one of A go"


def test_cancelling_a_batch_empties_its_backlog(scheduler, teams):
    big = teams.a(50)
    teams.b(1)
    assert service.cancel_batch(Actor.system("tests"), big) == 50
    assert big.tasks.filter(status=TaskStatus.CANCELLED).count() == 50
    assert not lifecycle.backlog().filter(batch=big).exists()
    task = _start_next()
    assert task.batch.team_id == teams.team_b
    assert scheduler.count == 0


def test_a_backlog_left_behind_is_sent_by_the_reconciler(
    use_redis, library, member, settings, django_capture_on_commit_callbacks
):
    """Submitted while the scheduler could not run (its after-commit call never came)."""
    settings.RENDER_QUEUED_PER_TEAM = 2
    with django_capture_on_commit_callbacks(execute=False):
        batch = service.create_batch(
            Actor.of(member),
            service.BatchSpec(
                project=library.project, audios=[library.hello], presenters=[library.anna]
            ),
        )
    task = batch.tasks.get()
    assert task.dispatched_at is None and django_rq.get_queue("gpu").count == 0
    with django_capture_on_commit_callbacks(execute=True):
        report = reconcile()
    assert report.dispatched == [task.pk] and report.resubmitted == []
    assert django_rq.get_queue("gpu").job_ids == [task.rq_job_id]


def test_a_requeued_task_waits_for_its_teams_turn(scheduler, teams):
    big = teams.a(5)
    running = _start_next()
    RenderTask.objects.filter(pk=running.pk).update(status=TaskStatus.FAILED)
    running.refresh_from_db()
    assert lifecycle.requeue(running, fresh_attempts=True)
    running.refresh_from_db()
    assert running.dispatched_at is None, "A already holds its two places"
    assert lifecycle.backlog().filter(batch=big).count() == 3


# --- real workers ------------------------------------------------------------------------------


def test_a_real_worker_starts_the_small_teams_task_within_two_starts(
    scheduler, teams, subprocess_env, tmp_path
):
    env = {**subprocess_env, "LIPSYNC_DEVICE": "cpu", "PYTHONUNBUFFERED": "1"}
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "gpu", "--name", "fair-share-worker"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    big = teams.a(50)
    try:
        deadline = time.monotonic() + 240
        while big.tasks.filter(started_at__isnull=False).count() < 2:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        small = teams.b(1).tasks.get()
        while not RenderTask.objects.get(pk=small.pk).started_at:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        small.refresh_from_db()
        overtook = big.tasks.filter(
            started_at__gt=small.queued_at, started_at__lt=small.started_at
        ).count()
        assert overtook <= 2, f"{overtook} renders of the big team started first"
        while RenderTask.objects.get(pk=small.pk).status == TaskStatus.RUNNING:
            time.sleep(0.2)
        assert RenderTask.objects.get(pk=small.pk).status == TaskStatus.SUCCEEDED
        assert big.tasks.filter(status=TaskStatus.SUCCEEDED).count() >= 2
    finally:
        service.cancel_batch(Actor.system("tests"), big)
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
