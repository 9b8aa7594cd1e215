"""The render-task lifecycle: every transition allowed or refused from every status, the fields
each one resets, and the rule that nothing else writes a task's status."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.utils import timezone

from rendering import lifecycle
from rendering.models import MediaAsset, RenderTask, TaskStatus
from rendering.services import batches as service
from studio.actor import Actor
from studio.notices import notice

REPO = Path(__file__).resolve().parents[2]
Q, R, S, F, C = (
    TaskStatus.QUEUED,
    TaskStatus.RUNNING,
    TaskStatus.SUCCEEDED,
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
)
NOTE = notice("test", "A note")


@pytest.fixture
def task(use_redis, library, member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        batch = service.create_batch(
            Actor.of(member),
            service.BatchSpec(
                project=library.project, audios=[library.hello], presenters=[library.anna]
            ),
        )
    return batch.tasks.get()


def _put(task: RenderTask, status: str) -> RenderTask:
    """Set up ``task`` in ``status`` with the traces a run leaves."""
    RenderTask.objects.filter(pk=task.pk).update(
        status=status,
        stage="render",
        percent=63.0,
        fps=41.0,
        eta_s=12.0,
        frames_done=630,
        frames_total=1000,
        worker_name="w1",
        device="cpu",
        attempts=1,
        started_at=timezone.now(),
    )
    task.refresh_from_db()
    return task


def _asset(task: RenderTask) -> MediaAsset:
    return MediaAsset.objects.create(
        team=task.batch.team, batch=task.batch, task=task, title="t", file="outputs/x.mp4"
    )


#: transition -> how to call it on a task (job-driven ones pass the task's own job id).
CALLS = {
    "claim": lambda t: lifecycle.claim(t.pk, t.rq_job_id, worker="w2", device="cpu") is not None,
    "succeed": lambda t: lifecycle.succeed(t, t.rq_job_id, _asset(t), 30.0),
    "fail": lambda t: lifecycle.fail(t, t.rq_job_id, NOTE),
    "fail_queued": lambda t: lifecycle.fail_queued(t, t.rq_job_id, NOTE),
    "cancelled": lambda t: lifecycle.cancelled(t, t.rq_job_id),
    "retry_later": lambda t: lifecycle.retry_later(t, t.rq_job_id, NOTE),
    "requeue": lambda t: lifecycle.requeue(t, note=NOTE),
    "request_cancel": lambda t: lifecycle.request_cancel(t),
}

#: (transition, from) -> the status it reaches, or None where it is refused.
TABLE = {
    ("claim", Q): R,
    ("succeed", R): S,
    ("fail", R): F,
    ("fail_queued", Q): F,
    ("cancelled", R): C,
    ("retry_later", R): Q,
    ("requeue", R): Q,
    ("requeue", F): Q,
    ("requeue", C): Q,
    ("request_cancel", Q): C,
}


def test_the_table_covers_the_rules():
    assert set(CALLS) == set(lifecycle.RULES)
    for (name, source), target in TABLE.items():
        rule = lifecycle.RULES[name]
        assert rule.allows(source) and rule.target == target


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("source", [Q, R, S, F, C])
def test_every_transition_from_every_status(task, name, source):
    task = _put(task, source)
    before_job = task.rq_job_id
    target = TABLE.get((name, source))
    changed = CALLS[name](task)
    row = RenderTask.objects.get(pk=task.pk)
    if name == "request_cancel" and source == R:
        # A running task is only flagged: its job stops and makes the transition itself.
        assert row.status == R and row.cancel_requested
        return
    if target is None:
        assert not changed, f"{name} must refuse a {source} task"
        assert row.status == source
        return
    assert changed, f"{name} must take a {source} task to {target}"
    assert row.status == target
    if name == "requeue":
        assert row.rq_job_id != before_job, "a re-queued task gets a fresh job id"


@pytest.mark.parametrize("name", ["succeed", "fail", "cancelled", "retry_later"])
def test_a_job_that_no_longer_owns_the_task_cannot_move_it(task, name):
    task = _put(task, R)
    RenderTask.objects.filter(pk=task.pk).update(rq_job_id="someone-else")
    call = {
        "succeed": lambda: lifecycle.succeed(task, task.rq_job_id, _asset(task), 1.0),
        "fail": lambda: lifecycle.fail(task, task.rq_job_id, NOTE),
        "cancelled": lambda: lifecycle.cancelled(task, task.rq_job_id),
        "retry_later": lambda: lifecycle.retry_later(task, task.rq_job_id, NOTE),
    }[name]
    assert not call()
    assert RenderTask.objects.get(pk=task.pk).status == R


def _progress(row: RenderTask) -> dict:
    return {key: getattr(row, key) for key in lifecycle.fresh_progress()}


def test_a_retried_task_starts_with_clean_progress_fields(task):
    task = _put(task, F)
    assert service.retry_task(Actor.system("tests"), task)
    row = RenderTask.objects.get(pk=task.pk)
    assert row.status == Q and row.attempts == 0 and row.output_id is None
    assert _progress(row) == lifecycle.fresh_progress()
    assert (row.worker_name, row.device, row.started_at, row.finished_at) == ("", "", None, None)
    claimed = lifecycle.claim(row.pk, row.rq_job_id, worker="w2", device="cpu")
    assert claimed is not None and claimed.attempts == 1
    assert _progress(claimed) == {**lifecycle.fresh_progress(), "stage": "starting"}


def test_a_run_retried_by_rq_starts_from_clean_progress_too(task):
    task = _put(task, R)
    assert lifecycle.retry_later(task, task.rq_job_id, NOTE)
    row = RenderTask.objects.get(pk=task.pk)
    assert row.status == Q and row.rq_job_id == task.rq_job_id, "RQ runs the same job again"
    assert _progress(row) == lifecycle.fresh_progress()
    assert row.error == NOTE


def test_a_requeued_task_goes_back_to_its_teams_backlog_and_out_again(
    task, django_capture_on_commit_callbacks
):
    """requeue does not send the job itself: the fair-share scheduler does, after commit,
    when the team has room (here at once: nothing else of the team waits)."""
    import django_rq

    task = _put(task, F)
    queue = django_rq.get_queue("gpu")
    queue.empty()
    with django_capture_on_commit_callbacks(execute=True):
        assert lifecycle.requeue(task, note=NOTE)
        row = RenderTask.objects.get(pk=task.pk)
        assert row.dispatched_at is None and lifecycle.backlog().filter(pk=task.pk).exists()
        assert queue.count == 0
    row = RenderTask.objects.get(pk=task.pk)
    assert row.dispatched_at is not None
    assert queue.job_ids == [row.rq_job_id]


def test_progress_writes_only_progress_fields(task):
    task = _put(task, R)
    assert lifecycle.record_progress(task.pk, task.rq_job_id, percent=70.0)
    with pytest.raises(ValueError, match="status"):
        lifecycle.record_progress(task.pk, task.rq_job_id, status=S)
    RenderTask.objects.filter(pk=task.pk).update(rq_job_id="other")
    assert not lifecycle.record_progress(task.pk, task.rq_job_id, percent=80.0)


# --- nothing else writes a task's status -----------------------------------------------------

LIFECYCLE = REPO / "rendering" / "lifecycle.py"


def _status_writes(path: Path) -> list[str]:
    """``.update(status=...)`` on render tasks, ``RenderTask(status=...)``, ``bulk_create`` of
    tasks and ``<task>.status = ...`` in one module."""
    source = path.read_text(encoding="utf-8")
    found = []
    for node in ast.walk(ast.parse(source)):
        where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = ast.get_source_segment(source, node.func.value) or ""
            about_tasks = "RenderTask" in receiver or "tasks" in receiver
            keywords = {k.arg for k in node.keywords}
            sets_status = "status" in keywords or None in keywords
            if node.func.attr in {"update", "create", "update_or_create"} and about_tasks:
                found += [where] if sets_status else []
            if node.func.attr == "bulk_create" and about_tasks:
                found.append(where)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "RenderTask"
            and "status" in {k.arg for k in node.keywords}
        ):
            found.append(where)
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "status"
                    and "task" in (ast.get_source_segment(source, target.value) or "")
                ):
                    found.append(where)
    return found


def test_only_the_lifecycle_module_writes_a_task_status():
    modules = [
        p
        for folder in ("studio", "rendering", "heygem_site")
        for p in (REPO / folder).rglob("*.py")
        if "migrations" not in p.parts and p != LIFECYCLE
    ]
    assert len(modules) > 40
    writes = [w for p in modules for w in _status_writes(p)]
    assert writes == []
    assert _status_writes(LIFECYCLE), "the scan no longer sees the lifecycle's own writes"
