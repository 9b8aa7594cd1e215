"""The dashboard: recent batches, the render queue, the workers and the team's disk use."""

from __future__ import annotations

import shutil
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from studio.models import AudioTrack, MediaStatus, Presenter
from studio.session import current_team

from ..models import ACTIVE_STATUSES, Batch, RenderTask, TaskStatus, team_disk_usage
from ..services.queue_status import queue_overview, worker_views

RECENT_BATCHES = 8


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    team = current_team(request)
    context: dict[str, Any] = {"team": team}
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
            "workers": worker_views(workers, request.user),
            "queue_error": queue_error,
            "disk": disk,
            "disk_used_percent": round(100 * disk.used / disk.total)
            if disk and disk.total
            else None,
        }
    )
    return render(request, "dashboard.html", context)
