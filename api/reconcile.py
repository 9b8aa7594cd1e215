"""The API's reconciler: no webhook delivery stays "pending" or "retrying" forever.

A delivery under way carries its job (``job_id``, ``queued_at``). Its job is lost (rule of
:mod:`studio.recovery`) when it was started by a worker that is silent for
``WORKER_STALE_AFTER_S`` or busy with another job, or when Redis no longer knows it or it
ended in RQ without ending the delivery, ``RECONCILE_LOST_QUEUED_S`` after it was queued
(RQ's scheduled retries are waiting jobs and are left alone). The lost run is logged as an
attempt; the delivery is queued again for its remaining attempts, or failed after
``WEBHOOK_MAX_ATTEMPTS``. Changes are conditional on the delivery still carrying the job that
was judged. Registered in :mod:`api.apps`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from redis import Redis

from studio import queues
from studio.queues import QueueName
from studio.recovery import JobState, fail_rq_job, job_state

from . import webhooks
from .models import DeliveryStatus, WebhookDelivery

log = logging.getLogger("api.webhooks")


def reconcile_deliveries(
    connection: Redis | None = None, now: datetime | None = None
) -> dict[str, list[int]]:
    """One pass over deliveries under way; returns what it changed."""
    now = now or timezone.now()
    connection = connection or queues.connection(QueueName.CPU)
    report: dict[str, list[int]] = {"deliveries_requeued": [], "deliveries_failed": []}
    stale = now - timedelta(seconds=settings.WORKER_STALE_AFTER_S)
    lost_after = now - timedelta(seconds=settings.RECONCILE_LOST_QUEUED_S)
    under_way = WebhookDelivery.objects.filter(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
    ).filter(Q(queued_at__lt=stale) | Q(queued_at__isnull=True, created_at__lt=lost_after))
    for delivery in under_way.select_related("webhook"):
        state = job_state(connection, delivery.job_id, now)
        if state in (JobState.WAITING, JobState.RUNNING):
            continue
        if state != JobState.DEAD and (delivery.queued_at or delivery.created_at) >= lost_after:
            continue
        log.warning("webhook delivery %s: its job %s is %s", delivery.pk, delivery.job_id, state)
        if state == JobState.DEAD:
            fail_rq_job(connection, delivery.job_id, "worker lost")
        attempt = webhooks.Attempt(
            None, _("The delivery job was lost (its worker stopped) before it could answer."), 0
        ).to_json()
        attempts = [*delivery.attempts, attempt]
        rows = WebhookDelivery.objects.filter(
            pk=delivery.pk, job_id=delivery.job_id, status=delivery.status
        )
        if len(attempts) >= settings.WEBHOOK_MAX_ATTEMPTS:
            if rows.update(
                attempts=attempts, status=DeliveryStatus.FAILED, finished_at=timezone.now()
            ):
                report["deliveries_failed"].append(delivery.pk)
            continue
        if rows.update(attempts=attempts, status=DeliveryStatus.RETRYING):
            webhooks.enqueue(delivery, attempts_made=len(attempts))
            report["deliveries_requeued"].append(delivery.pk)
    return report
