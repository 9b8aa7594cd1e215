"""The dashboard: recent batches with progress, the queues, the workers and disk use."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from rendering.models.batches import Batch, RenderTask, TaskStatus
from studio.models import Project

pytestmark = pytest.mark.django_db


def make_batch(team, name: str, statuses: list[tuple[str, float]]) -> Batch:
    project = Project.objects.create(team=team, name=f"{name} project")
    batch = Batch.objects.create(team=team, project=project, name=name, engine="warp")
    for n, (status, percent) in enumerate(statuses):
        RenderTask.objects.create(
            batch=batch,
            position=n,
            presenter_name=f"p{n}",
            audio_name="voice",
            status=status,
            percent=percent,
        )
    batch.refresh_status()
    return batch


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_recent_batches_show_progress_and_counts(owner_client, team, use_redis, media_root):
    make_batch(team, "Autumn course", [(TaskStatus.SUCCEEDED, 100.0), (TaskStatus.RUNNING, 50.0)])
    make_batch(team, "Safety talk", [(TaskStatus.FAILED, 30.0), (TaskStatus.SUCCEEDED, 100.0)])
    response = owner_client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    running = next(b for b in response.context["batches"] if b.name == "Autumn course")
    assert running.percent_cache == 75
    assert running.counts_cache["succeeded"] == 1 and running.counts_cache["total"] == 2
    assert 'aria-valuenow="75"' in html and 'data-percent="75"' in html
    assert "Safety talk" in html and "1 failed" in html
    assert response.context["tasks_active"] == 1
    assert response.context["tasks_running"] == 1
    # While a batch runs, the page refreshes its live region by itself.
    assert 'id="dashboard-live" data-live-refresh' in html and 'data-status="running"' in html


def test_other_teams_batches_stay_hidden(owner_client, team, other_team, use_redis, media_root):
    make_batch(other_team, "Secret plan", [(TaskStatus.QUEUED, 0.0)])
    response = owner_client.get(reverse("dashboard"))
    assert "Secret plan" not in response.content.decode()
    assert response.context["batches"] == []
    assert response.context["tasks_active"] == 0


def test_queue_counts_and_workers_with_their_device(owner, owner_client, use_redis, media_root):
    """Staff (the machine's operators) see every worker's host, pid, id and device."""
    import django_rq
    from rq import Queue

    from rendering.worker import StudioWorker, worker_device

    # A plain rq Queue: DjangoRQ would hold the jobs back until the test's transaction commits.
    queue = Queue("gpu", connection=django_rq.get_connection("gpu"))
    queue.enqueue("os.getcwd")
    queue.enqueue("os.getcwd")
    worker = StudioWorker(
        [queue, Queue("cpu", connection=queue.connection)],
        connection=queue.connection,
        name="render-box-1",
    )
    worker.device = worker_device()  # what StudioWorker.work() does first
    worker.register_birth()
    try:
        plain = owner_client.get(reverse("dashboard"))
        owner.is_staff = True
        owner.save(update_fields=["is_staff"])
        response = owner_client.get(reverse("dashboard"))
        zh = owner_client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    finally:
        worker.register_death()
    queues = {q.name: q for q in response.context["queues"]}
    assert queues["gpu"].waiting == 2 and queues["cpu"].waiting == 0
    workers = response.context["workers"]
    assert [w.title for w in workers] == ["render-box-1"]
    # This machine has no GPU: the worker says so instead of naming one.
    assert workers[0].device == "cpu"
    # A readable label (host · queues · pid); the full worker id only in its title.
    # Queues and devices by what they are for, never their raw names ("gpu", "cpu").
    label = f"{worker.hostname} · Renders, Preparation · pid {worker.pid}"
    with translation.override("en"):
        assert workers[0].label == label
    html = response.content.decode()
    assert f'title="render-box-1" data-testid="worker-label">{label}<' in html
    assert 'data-testid="worker-device">processor (CPU)<' in html
    assert "(gpu)" not in html and "(cpu)" not in html
    assert 'data-testid="worker-device">处理器（CPU）<' in zh
    assert response.context["queue_error"] is None
    # Without the staff flag the same owner sees a numbered worker, no host, id or device.
    html = plain.content.decode()
    assert 'data-testid="worker-label">Render worker 1<' in html
    assert worker.hostname not in html and "render-box-1" not in html and "Device:" not in html


def test_no_worker_running_is_called_out(owner_client, team, use_redis, media_root):
    response = owner_client.get(reverse("dashboard"))
    assert response.context["workers"] == []
    assert "No worker is running" in response.content.decode()


def test_redis_down_still_renders_the_page(owner_client, team, settings, media_root):
    from tests.conftest import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.RQ_QUEUES = {
        name: {"URL": url, "DEFAULT_TIMEOUT": 60} for name in ("default", "cpu", "gpu")
    }
    response = owner_client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert response.context["queue_error"]
    assert "The job queue cannot be reached" in response.content.decode()


def test_disk_use_of_the_team_and_the_server(owner_client, team, use_redis, media_root):
    from studio.models import Presenter

    Presenter.objects.create(
        team=team,
        name="Anna",
        file="presenters/a.mp4",
        original_filename="a.mp4",
        size_bytes=3 * 1024**2,
    )
    response = owner_client.get(reverse("dashboard"))
    assert response.context["usage"]["presenters"] == 3 * 1024**2
    assert response.context["usage"]["total"] == 3 * 1024**2
    disk = response.context["disk"]
    assert disk.total > 0 and 0 <= response.context["disk_used_percent"] <= 100
    assert "3.0\xa0MB" in response.content.decode()


def test_dashboard_in_chinese(owner_client, team, use_redis, media_root):
    response = owner_client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "仪表盘" in html and "最近的批次" in html and "工作进程" in html


def test_renders_in_a_teams_backlog_count_as_waiting(owner_client, team, member, use_redis):
    """Fair share keeps most of a big batch out of RQ; the dashboard still counts it."""
    from rendering.models import Batch, RenderTask, TaskStatus
    from studio.models import Project

    project = Project.objects.create(team=team, name="P", created_by=member)
    batch = Batch.objects.create(team=team, project=project, name="b", engine="warp")
    for n in range(3):
        RenderTask.objects.create(
            batch=batch, position=n, presenter_name="p", audio_name="a", status=TaskStatus.QUEUED
        )
    response = owner_client.get(reverse("dashboard"))
    queues = {q.name: q for q in response.context["queues"]}
    assert queues["gpu"].waiting == 3, "in the team's backlog, not yet in RQ"


@pytest.fixture
def busy_render_worker(team, use_redis):
    """A real RQ worker process busy with the job of a render task of ``team``."""
    import os
    import subprocess
    import sys
    import time

    from rq import Queue, Worker

    from studio import queues

    project = Project.objects.create(team=team, name="Board")
    batch = Batch.objects.create(team=team, project=project, name="Quarterly", engine="warp")
    task = RenderTask.objects.create(
        batch=batch,
        position=0,
        presenter_name="Anna Secret",
        audio_name="Layoff plan",
        status=TaskStatus.RUNNING,
        rq_job_id=queues.new_job_id(),
    )
    connection = queues.connection()
    # The job id and description lifecycle.enqueue gives a render, on a job that only waits:
    # the worker process is real, only the work is not a render.
    Queue("gpu", connection=connection).enqueue(
        "time.sleep", 120, job_id=task.rq_job_id, description=f"render task {task.pk}"
    )
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    proc = subprocess.Popen(
        [rq, "worker", "gpu", "--burst", "--url", use_redis.url, "--name", "box-7-gpu"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            busy = [
                w
                for w in Worker.all(connection=connection)
                if w.get_current_job_id() == task.rq_job_id
            ]
            if busy:
                break
            assert proc.poll() is None, "the worker ended early"
            assert time.monotonic() < deadline, "the worker never took the job"
            time.sleep(0.1)
        yield task, busy[0]
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_another_teams_user_sees_no_job_names_hosts_or_devices(
    busy_render_worker, outsider, outsider_client, owner_client
):
    """Issue 9, item 3: the dashboard showed every worker's job and host to everyone."""
    task, worker = busy_render_worker
    host, pid = worker.hostname, str(worker.pid)
    assert host and pid

    html = outsider_client.get(reverse("dashboard")).content.decode()
    for secret in ("Anna Secret", "Layoff plan", f"render task {task.pk}", host, pid, "box-7-gpu"):
        assert secret not in html, secret
    assert "Device:" not in html
    views = outsider_client.get(reverse("dashboard")).context["workers"]
    assert [(v.label, v.state, v.work, v.other_work) for v in views] == [
        ("Render worker 1", "busy", "Busy with other work", True)
    ]
    # The queue numbers stay (anonymous counts of everyone's work).
    assert 'data-testid="queue-gpu"' in html

    # A member of the task's team sees their own task by name, linked, still without the host.
    html = owner_client.get(reverse("dashboard")).content.decode()
    assert "Rendering Anna Secret × Layoff plan" in html
    assert reverse("batch_detail", args=[task.batch_id]) in html
    assert host not in html and "box-7-gpu" not in html

    # Staff of another team see the machine and the job's id-only description, not its names.
    outsider.is_staff = True
    outsider.save(update_fields=["is_staff"])
    html = outsider_client.get(reverse("dashboard")).content.decode()
    assert host in html and f"pid {pid}" in html and "box-7-gpu" in html
    assert f"render task {task.pk}" in html and "Anna Secret" not in html


def test_own_face_checks_are_named_and_other_teams_are_not(team, other_team, owner, outsider):
    from rendering.services.queue_status import WorkerInfo, worker_views
    from studio.models import Presenter

    presenter = Presenter.objects.create(
        team=team, name="Bob", file="presenters/b.mp4", original_filename="b.mp4", job_id="j1"
    )
    busy = WorkerInfo(
        name="w",
        queues=["cpu"],
        state="busy",
        device="cpu",
        current="check_presenter 1",
        host="box",
        pid=9,
        job_id="j1",
        job_func="studio.jobs.check_presenter",
        job_args=(presenter.pk,),
    )
    idle = WorkerInfo(name="v", queues=["cpu"], state="idle", device="cpu", current="")
    mine = worker_views([busy, idle], owner)
    assert [(v.label, v.work, v.other_work) for v in mine] == [
        ("Preparation worker 1", "Checking presenter Bob", False),
        ("Preparation worker 2", "", False),
    ]
    assert mine[0].work_url == reverse("presenter_detail", args=[presenter.pk])
    theirs = worker_views([busy], outsider)
    assert (theirs[0].work, theirs[0].work_url, theirs[0].device, theirs[0].title) == (
        "Busy with other work",
        "",
        "",
        "",
    )
