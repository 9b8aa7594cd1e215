"""The dashboard: recent batches, the render queue, the workers and the team's disk use."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from redis.exceptions import RedisError

from ..models import AudioTrack, MediaStatus, Presenter
from ..models.assets import team_disk_usage
from ..models.batches import ACTIVE_STATUSES, Batch, RenderTask, TaskStatus
from ..services.teams import current_team

QUEUE_NAMES = ("gpu", "cpu")
RECENT_BATCHES = 8


@dataclass
class QueueInfo:
    name: str
    waiting: int
    running: int


@dataclass
class WorkerInfo:
    name: str
    queues: list[str]
    state: str
    device: str
    current: str
    host: str = ""
    pid: int | None = None

    @property
    def label(self) -> str:
        """A readable name (host · queues · pid) in place of RQ's 32-character worker id."""
        parts = [self.host or "", ", ".join(self.queues), f"pid {self.pid}" if self.pid else ""]
        return " · ".join(p for p in parts if p) or self.name


def _worker_device(name: str) -> str:
    """The device of the latest task a worker ran ("cuda:0", "cpu"), for workers that said none."""
    task = (
        RenderTask.objects.filter(worker_name=name)
        .exclude(device="")
        .order_by("-started_at")
        .values_list("device", flat=True)
        .first()
    )
    return task or ""


def queue_overview() -> tuple[list[QueueInfo], list[WorkerInfo], str | None]:
    """Waiting/running counts per RQ queue and the live workers; an error text if Redis is down."""
    import django_rq
    from rq import Worker
    from rq.registry import StartedJobRegistry

    queues: list[QueueInfo] = []
    workers: list[WorkerInfo] = []
    try:
        connection = django_rq.get_connection(QUEUE_NAMES[0])
        for name in QUEUE_NAMES:
            queue = django_rq.get_queue(name)
            running = StartedJobRegistry(name, connection=queue.connection).count
            queues.append(QueueInfo(name=name, waiting=queue.count, running=running))
        for worker in Worker.all(connection=connection):
            job = worker.get_current_job()
            device = connection.hget(worker.key, "device")
            workers.append(
                WorkerInfo(
                    name=worker.name,
                    queues=worker.queue_names(),
                    state=str(getattr(worker.get_state(), "value", worker.get_state())),
                    device=device.decode() if device else "",
                    current=(job.description or job.id) if job else "",
                    host=worker.hostname or "",
                    pid=worker.pid,
                )
            )
    except RedisError as exc:
        return queues, workers, str(exc)
    for info in workers:
        info.device = info.device or _worker_device(info.name)
    workers.sort(key=lambda w: w.name)
    return queues, workers, None


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    team = current_team(request)
    context: dict = {"team": team}
    if team is not None:
        batches = list(
            Batch.objects.for_team(team)
            .select_related("project")
            .order_by("-created_at")[:RECENT_BATCHES]
        )
        for batch in batches:
            batch.counts_cache = batch.counts()
            batch.percent_cache = round(batch.progress_percent())
        presenters = Presenter.objects.for_team(team).filter(archived=False)
        context.update(
            {
                "batches": batches,
                "presenters_ready": presenters.filter(status=MediaStatus.READY).count(),
                "presenters_processing": presenters.filter(status=MediaStatus.PROCESSING).count(),
                "presenters_failed": presenters.filter(status=MediaStatus.FAILED).count(),
                "audio_count": AudioTrack.objects.for_team(team).count(),
                "tasks_active": RenderTask.objects.for_team(team)
                .filter(status__in=ACTIVE_STATUSES)
                .count(),
                "tasks_running": RenderTask.objects.for_team(team)
                .filter(status=TaskStatus.RUNNING)
                .count(),
                "usage": team_disk_usage(team),
            }
        )
    queues, workers, queue_error = queue_overview()
    try:
        disk = shutil.disk_usage(settings.MEDIA_ROOT)
    except FileNotFoundError:
        disk = None
    context.update(
        {
            "queues": queues,
            "workers": workers,
            "queue_error": queue_error,
            "disk": disk,
            "disk_used_percent": round(100 * disk.used / disk.total)
            if disk and disk.total
            else None,
        }
    )
    return render(request, "dashboard.html", context)
