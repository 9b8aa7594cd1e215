"""Webhook deliveries always end: a delivery whose job was lost is sent again, then failed
(api/reconcile.py, the rule of studio/recovery.py)."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rq.job import JobStatus
from rq.utils import utcformat

from api import webhooks
from api.models import DeliveryStatus, Webhook, WebhookDelivery
from api.reconcile import reconcile_deliveries

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def delivery(use_redis, team, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    hook = Webhook.objects.create(
        team=team, url="https://hooks.example.com/x", events=["task.failed"]
    )
    made = WebhookDelivery.objects.create(webhook=hook, event="task.failed", body="{}")
    webhooks.enqueue(made)
    made.refresh_from_db()
    return made


def _long_ago(delivery, settings) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        queued_at=timezone.now() - timedelta(seconds=settings.RECONCILE_LOST_QUEUED_S + 5)
    )


def test_a_delivery_whose_job_vanished_is_sent_again_then_failed(delivery, use_redis, settings):
    assert delivery.job_id in django_rq.get_queue("cpu").job_ids
    _long_ago(delivery, settings)
    assert not any(reconcile_deliveries().values()), "still waiting in the queue: left alone"

    use_redis.client.flushall()  # Redis lost the job
    assert reconcile_deliveries()["deliveries_requeued"] == [delivery.pk]
    row = WebhookDelivery.objects.get(pk=delivery.pk)
    assert row.status == DeliveryStatus.RETRYING and len(row.attempts) == 1
    assert "was lost" in row.attempts[0]["error"]
    job = django_rq.get_queue("cpu").fetch_job(row.job_id)
    assert job is not None and job.retries_left == 1, "the attempts left, not a fresh set"

    use_redis.client.flushall()
    _long_ago(row, settings)
    assert reconcile_deliveries()["deliveries_requeued"] == [delivery.pk]
    use_redis.client.flushall()
    _long_ago(row, settings)
    assert reconcile_deliveries()["deliveries_failed"] == [delivery.pk]
    row.refresh_from_db()
    assert row.status == DeliveryStatus.FAILED and row.finished_at and len(row.attempts) == 3


def test_a_delivery_on_a_dead_worker_is_sent_again(delivery, settings):
    conn = django_rq.get_connection("cpu")
    queue = django_rq.get_queue("cpu")
    job = queue.fetch_job(delivery.job_id)
    queue.remove(job)
    job.set_status(JobStatus.STARTED)
    job.worker_name = "ghost"
    job.save()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        queued_at=timezone.now() - timedelta(seconds=settings.WORKER_STALE_AFTER_S + 5)
    )
    conn.hset("rq:worker:ghost", "last_heartbeat", utcformat(timezone.now() - timedelta(hours=1)))
    assert reconcile_deliveries()["deliveries_requeued"] == [delivery.pk]
