"""What the render queues and their workers are doing now (for the dashboard).

Visibility rule (issue 9, item 3): the queues' waiting and running counts are shown to everyone
as plain numbers; a worker's host, process id, RQ id, device and the RQ description of its job
only to staff and superusers (the operators of the machine). Everyone else sees each worker as
"Render worker 1" / "Preparation worker 2" with its state, and its current job named only when
the job is one of their own teams' (a render, a face check, an audio check, a thumbnail);
any other job is "busy with other work". The redaction happens here, before anything reaches
a template (:func:`worker_views`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from redis.exceptions import RedisError
from rq import Worker
from rq.registry import StartedJobRegistry

from studio import queues
from studio.models import AudioTrack, Presenter
from studio.queues import QueueName

from ..labels import queue_label
from ..lifecycle import backlog
from ..models import MediaAsset, RenderTask

#: Queues shown, renders first.
QUEUE_NAMES = (QueueName.GPU, QueueName.CPU)

#: The job function whose only argument is a media asset's id (it stores no job id on a row).
THUMBNAIL_FUNC = "rendering.jobs.make_thumbnail"


@dataclass
class QueueInfo:
    name: str
    waiting: int
    running: int


@dataclass
class WorkerInfo:
    """Everything known about a live worker (the operators' view)."""

    name: str
    queues: list[str]
    state: str
    device: str
    current: str
    host: str = ""
    pid: int | None = None
    job_id: str = ""
    job_func: str = ""
    job_args: tuple[Any, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        """A readable name (host · queues · pid) in place of RQ's 32-character worker id."""
        jobs = ", ".join(queue_label(q) for q in self.queues)
        parts = [self.host or "", jobs, f"pid {self.pid}" if self.pid else ""]
        return " · ".join(p for p in parts if p) or self.name


@dataclass
class WorkerView:
    """What one reader may see of a worker (built by :func:`worker_views`)."""

    label: str
    state: str
    #: The RQ worker id (staff only, "" otherwise).
    title: str = ""
    #: Device (staff only).
    device: str = ""
    #: The current job in the reader's words: named when it is theirs, else anonymous.
    work: str = ""
    #: Where that job can be followed (the batch page of an own render), else "".
    work_url: str = ""
    #: True when the worker is busy with something the reader may not see.
    other_work: bool = False
    #: Whether host, device and job details are shown (staff and superusers).
    details: bool = False


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
    """Waiting/running counts per RQ queue and the live workers; an error text if Redis is down.

    The workers carry every detail: pass them through :func:`worker_views` before showing them.
    """
    infos: list[QueueInfo] = []
    workers: list[WorkerInfo] = []
    try:
        connection = queues.connection(QUEUE_NAMES[0])
        for name in QUEUE_NAMES:
            queue = queues.get_queue(name)
            running = StartedJobRegistry(name, connection=queue.connection).count
            waiting = queue.count
            if name == QueueName.GPU:
                # Renders waiting for their team's turn (fair share) are waiting too.
                waiting += backlog().count()
            infos.append(QueueInfo(name=name, waiting=waiting, running=running))
        for worker in Worker.all(connection=connection):
            job = worker.get_current_job()
            device = connection.hget(worker.key, "device")
            workers.append(
                WorkerInfo(
                    name=worker.name,
                    queues=worker.queue_names(),
                    state=str(getattr(worker.get_state(), "value", worker.get_state())),
                    device=device.decode() if isinstance(device, bytes) else (device or ""),
                    current=(job.description or job.id) if job else "",
                    host=worker.hostname or "",
                    pid=worker.pid,
                    job_id=job.id if job else "",
                    job_func=(job.func_name or "") if job else "",
                    job_args=tuple(job.args or ()) if job else (),
                )
            )
    except RedisError as exc:
        return infos, workers, str(exc)
    for info in workers:
        info.device = info.device or _worker_device(info.name)
    workers.sort(key=lambda w: w.name)
    return infos, workers, None


def sees_worker_details(user: Any) -> bool:
    """Host names, devices and other teams' jobs are for the machine's operators only."""
    return bool(
        getattr(user, "is_active", False)
        and (getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))
    )


def _own_work(worker: WorkerInfo, user: Any) -> tuple[str, str]:
    """The reader's own job on ``worker`` as (text, url), or ("", "") when it is not theirs."""
    if not worker.job_id:
        return "", ""
    task = (
        RenderTask.objects.for_user(user)
        .filter(rq_job_id=worker.job_id)
        .only("presenter_name", "audio_name", "batch_id")
        .first()
    )
    if task is not None:
        text = _("Rendering %(presenter)s × %(audio)s") % {
            "presenter": task.presenter_name,
            "audio": task.audio_name,
        }
        return text, reverse("batch_detail", args=[task.batch_id])
    presenter = Presenter.objects.for_user(user).filter(job_id=worker.job_id).first()
    if presenter is not None:
        text = _("Checking presenter %(name)s") % {"name": presenter.name}
        return text, reverse("presenter_detail", args=[presenter.pk])
    audio = AudioTrack.objects.for_user(user).filter(job_id=worker.job_id).first()
    if audio is not None:
        text = _("Checking audio %(name)s") % {"name": audio.name}
        return text, reverse("audio_detail", args=[audio.pk])
    if worker.job_func == THUMBNAIL_FUNC and worker.job_args:
        try:
            asset_id = int(worker.job_args[0])
        except (TypeError, ValueError):
            return "", ""
        asset = MediaAsset.objects.for_user(user).filter(pk=asset_id).first()
        if asset is not None:
            text = _("Making a thumbnail of %(name)s") % {"name": asset.file_name}
            return text, asset.get_absolute_url()
    return "", ""


def worker_views(workers: list[WorkerInfo], user: Any) -> list[WorkerView]:
    """``workers`` as ``user`` may see them (see the module's visibility rule)."""
    details = sees_worker_details(user)
    views: list[WorkerView] = []
    numbers = {"render": 0, "preparation": 0}
    for worker in workers:
        work, url = _own_work(worker, user)
        busy_elsewhere = bool(worker.job_id) and not work
        if details:
            views.append(
                WorkerView(
                    label=worker.label,
                    state=worker.state,
                    title=worker.name,
                    device=worker.device,
                    work=work or worker.current,
                    work_url=url,
                    details=True,
                )
            )
            continue
        kind = "render" if QueueName.GPU in worker.queues else "preparation"
        numbers[kind] += 1
        label = (
            _("Render worker %(n)d") if kind == "render" else _("Preparation worker %(n)d")
        ) % {"n": numbers[kind]}
        views.append(
            WorkerView(
                label=label,
                state=worker.state,
                work=work or (_("Busy with other work") if busy_elsewhere else ""),
                work_url=url,
                other_work=busy_elsewhere,
            )
        )
    return views
