"""What the render queues and their workers are doing now (for the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.exceptions import RedisError
from rq import Worker
from rq.registry import StartedJobRegistry

from studio import queues
from studio.queues import QueueName

from ..labels import queue_label
from ..lifecycle import backlog
from ..models import RenderTask

#: Queues shown, renders first.
QUEUE_NAMES = (QueueName.GPU, QueueName.CPU)


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
        jobs = ", ".join(queue_label(q) for q in self.queues)
        parts = [self.host or "", jobs, f"pid {self.pid}" if self.pid else ""]
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
                )
            )
    except RedisError as exc:
        return infos, workers, str(exc)
    for info in workers:
        info.device = info.device or _worker_device(info.name)
    workers.sort(key=lambda w: w.name)
    return infos, workers, None
