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


def test_queue_counts_and_workers_with_their_device(owner_client, team, use_redis, media_root):
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
        response = owner_client.get(reverse("dashboard"))
        zh = owner_client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    finally:
        worker.register_death()
    queues = {q.name: q for q in response.context["queues"]}
    assert queues["gpu"].waiting == 2 and queues["cpu"].waiting == 0
    workers = response.context["workers"]
    assert [w.name for w in workers] == ["render-box-1"]
    assert workers[0].queues == ["gpu", "cpu"]
    # This machine has no GPU: the worker says so instead of naming one.
    assert workers[0].device == "cpu"
    assert workers[0].host == worker.hostname and workers[0].pid == worker.pid
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
