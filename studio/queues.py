"""The one way to put background work on the RQ queues.

* Queue names are :class:`QueueName` members (``settings.RQ_QUEUES`` defines the same two).
* A job id is chosen before the job exists (:func:`new_job_id`), so a caller stores it with
  its row first and a job can check that the row still expects it (see
  :mod:`rendering.lifecycle`).
* Inside a database transaction the job is sent only once the transaction commits (a worker
  must never look for a row that is not there yet); outside one it is sent at once.
* Redis not answering is :class:`QueueUnavailable` when the job is sent at once; for a job
  sent after a commit (the caller has already returned) the caller's ``on_unavailable``
  callback runs instead, or the error is logged; the reconcilers find rows whose job never
  arrived.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import django_rq
from django.conf import settings
from django.db import transaction
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Retry

log = logging.getLogger("studio.queues")

#: How long RQ keeps a finished job's result and a failed job's record.
RESULT_TTL_S = 24 * 3600
FAILURE_TTL_S = 7 * 24 * 3600


class QueueName(StrEnum):
    #: Presenter face checks, audio analysis, thumbnails: CPU work, no render engine.
    CPU = "cpu"
    #: Renders, on workers that keep an engine (and a GPU's model) resident.
    GPU = "gpu"


class QueueUnavailable(Exception):
    """Redis cannot be reached; nothing was queued."""


def connection(name: QueueName = QueueName.GPU) -> Redis:
    """The Redis connection of queue ``name`` (all queues share one Redis)."""
    return django_rq.get_connection(str(name))


def reachable(timeout_s: float = 0.5) -> bool:
    """Whether Redis answers now (pages say so when it does not: work waits for it)."""
    client = Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
    )
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()


def get_queue(name: QueueName) -> Queue:
    """The RQ queue ``name``; it sends at once (the commit rule is applied by :func:`enqueue`)."""
    return django_rq.get_queue(str(name), commit_mode="auto")


def new_job_id() -> str:
    return uuid.uuid4().hex


def enqueue(
    name: QueueName,
    func: str | Callable[..., Any],
    *args: Any,
    job_id: str | None = None,
    timeout_s: int | None = None,
    retry: Retry | None = None,
    at_front: bool = False,
    description: str = "",
    on_unavailable: Callable[[RedisError], None] | None = None,
) -> str:
    """Queue ``func(*args)`` on ``name``; returns the job id (``job_id`` or a new one).

    ``description`` shows in RQ's dashboard and the worker log: keep people's file names
    out of it (the dashboard is not team-scoped).
    """
    job_id = job_id or new_job_id()

    def send() -> None:
        try:
            get_queue(name).enqueue(
                func,  # type: ignore[type-var]  # rq's stub wants one of the two, we pass either
                *args,
                job_id=job_id,
                job_timeout=timeout_s,
                retry=retry,
                at_front=at_front,
                description=description or None,
                result_ttl=RESULT_TTL_S,
                failure_ttl=FAILURE_TTL_S,
            )
        except RedisError as exc:
            log.error("could not queue %s (job %s) on %s: %s", _name(func), job_id, name, exc)
            if on_unavailable is None:
                raise QueueUnavailable("Redis did not accept the job") from exc  # logged above
            on_unavailable(exc)

    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(send, robust=True)
    else:
        send()
    return job_id


def _name(func: str | Callable[..., Any]) -> str:
    return func if isinstance(func, str) else getattr(func, "__qualname__", repr(func))
