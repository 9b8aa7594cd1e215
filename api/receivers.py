"""Webhook events from the library's and rendering's signals (connected in :mod:`api.apps`).

The payloads carry ids, names, statuses and the API paths of what changed; error texts are
in English (``error.message``) next to their stable ``error.code``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.urls import reverse

from rendering import events as rendering_events
from rendering.models import Batch, RenderTask
from rendering.payloads import batch_summary
from studio import events as studio_events
from studio.models import Presenter

from . import webhooks
from .models import WebhookEvent

log = logging.getLogger("api.webhooks")


def _error(obj: Any) -> dict[str, str] | None:
    return {"code": obj.error.code, "message": obj.error.message} if obj.error else None


def presenter_data(presenter: Presenter) -> dict[str, Any]:
    return {
        "presenter": {
            "id": presenter.pk,
            "name": presenter.name,
            "status": presenter.status,
            "error": _error(presenter),
            "url": reverse("api:presenter", args=[presenter.pk]),
        }
    }


def task_data(task: RenderTask) -> dict[str, Any]:
    result = None
    if task.output_id:
        result = {
            "id": task.output_id,
            "url": reverse("api:result", args=[task.output_id]),
            "download_url": reverse("api:result_download", args=[task.output_id]),
        }
    return {
        "task": {
            "id": task.pk,
            "batch": task.batch_id,
            "presenter": {"id": task.presenter_id, "name": task.presenter_name},
            "audio": {"id": task.audio_id, "name": task.audio_name},
            "status": task.status,
            "error": _error(task),
            "result": result,
        },
        "batch_url": reverse("api:batch", args=[task.batch_id]),
    }


def batch_data(batch: Batch) -> dict[str, Any]:
    summary = batch_summary(batch)
    return {
        "batch": {
            "id": batch.pk,
            "name": batch.name,
            "status": batch.status,
            "counts": summary["counts"],
            "total": summary["total"],
            "url": reverse("api:batch", args=[batch.pk]),
            "zip_url": reverse("api:batch_zip", args=[batch.pk]),
            "results_url": reverse("api:results") + f"?batch={batch.pk}",
        }
    }


def on_presenter_ready(sender: Any, presenter: Presenter, **kwargs: Any) -> None:
    webhooks.emit(presenter.team, WebhookEvent.PRESENTER_READY, presenter_data(presenter))


def on_presenter_failed(sender: Any, presenter: Presenter, **kwargs: Any) -> None:
    webhooks.emit(presenter.team, WebhookEvent.PRESENTER_FAILED, presenter_data(presenter))


def on_task_succeeded(sender: Any, task: RenderTask, **kwargs: Any) -> None:
    webhooks.emit(task.batch.team, WebhookEvent.TASK_SUCCEEDED, task_data(task))


def on_task_failed(sender: Any, task: RenderTask, **kwargs: Any) -> None:
    webhooks.emit(task.batch.team, WebhookEvent.TASK_FAILED, task_data(task))


def on_batch_completed(sender: Any, batch: Batch, **kwargs: Any) -> None:
    webhooks.emit(batch.team, WebhookEvent.BATCH_COMPLETED, batch_data(batch))


def connect() -> None:
    studio_events.presenter_ready.connect(on_presenter_ready, dispatch_uid="api.presenter_ready")
    studio_events.presenter_failed.connect(on_presenter_failed, dispatch_uid="api.presenter_failed")
    rendering_events.task_succeeded.connect(on_task_succeeded, dispatch_uid="api.task_succeeded")
    rendering_events.task_failed.connect(on_task_failed, dispatch_uid="api.task_failed")
    rendering_events.batch_completed.connect(on_batch_completed, dispatch_uid="api.batch_completed")
