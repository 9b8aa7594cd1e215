"""The webhook delivery job (``cpu`` queue): one signed POST per run, retried by RQ.

A delivery is tried ``WEBHOOK_MAX_ATTEMPTS`` times, ``WEBHOOK_RETRY_INTERVALS_S`` apart (RQ's
``Retry``; the workers run the scheduler that brings delayed retries back). Every attempt is
logged on the delivery with the receiver's status code; after the last one the delivery is
``failed``. An address the allow-list refuses fails at once (trying again cannot help).
"""

from __future__ import annotations

import logging

from django.utils import timezone
from rq import get_current_job

from . import webhooks
from .models import DeliveryStatus, WebhookDelivery

log = logging.getLogger("api.webhooks")


class DeliveryFailed(Exception):
    """This attempt failed and RQ will try again (raised so RQ schedules the retry)."""


def deliver(delivery_id: int) -> str:
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None:
        return "gone"
    if delivery.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED):
        return delivery.status
    attempt = webhooks.post(delivery.webhook, delivery)
    attempts = [*delivery.attempts, attempt.to_json()]
    fields: dict[str, object] = {"attempts": attempts, "response_code": attempt.status_code}
    job = get_current_job()
    retries_left = job.retries_left if job is not None and job.retries_left else 0
    refused = attempt.status_code is None and attempt.error and _refused(delivery)
    if attempt.ok:
        fields.update(status=DeliveryStatus.SUCCEEDED, finished_at=timezone.now())
    elif retries_left and not refused:
        fields.update(status=DeliveryStatus.RETRYING)
    else:
        fields.update(status=DeliveryStatus.FAILED, finished_at=timezone.now())
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    log.info(
        "webhook delivery %s (%s) attempt %d: %s %s",
        delivery.pk,
        delivery.event,
        len(attempts),
        attempt.status_code,
        attempt.error,
    )
    if fields["status"] == DeliveryStatus.RETRYING:
        raise DeliveryFailed(attempt.error or str(attempt.status_code))
    return str(fields["status"])


def _refused(delivery: WebhookDelivery) -> bool:
    try:
        webhooks.check_url(delivery.webhook.url)
    except webhooks.WebhookRefused:
        return True
    return False
