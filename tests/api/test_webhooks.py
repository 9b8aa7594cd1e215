"""Webhooks: signatures, the outbound allow-list, retries then failure on a real RQ worker,
the "send test event" and "replay" buttons."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse

from api import webhooks
from api.models import DeliveryStatus, Webhook, WebhookDelivery
from studio.actor import Actor
from tests.api.receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def loopback_allowed(settings):
    """The operator allows the loopback receiver (nothing internal is allowed by default)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_TIMEOUT_S = 5.0


def test_signature_covers_timestamp_and_body_and_rotation_signs_with_both(team, admin_user):
    hook = Webhook.objects.create(
        team=team, url="https://hooks.example.com/x", events=["task.failed"]
    )
    body = b'{"a":1}'
    t = int(time.time())
    header = webhooks.signature_header(hook.secrets(), t, body)
    assert header.startswith(f"t={t},v1=") and header.count("v1=") == 1
    assert webhooks.verify(header, hook.secret, body)
    assert not webhooks.verify(header, hook.secret, b'{"a":2}')
    assert not webhooks.verify(header.replace(f"t={t}", f"t={t - 1}"), hook.secret, body)
    assert not webhooks.verify(
        webhooks.signature_header([hook.secret], t - 3600, body), hook.secret, body
    )
    old = hook.secret
    new = webhooks.rotate_secret(Actor.of(admin_user), hook)
    both = webhooks.signature_header(hook.secrets(), t, body)
    assert new != old and both.count("v1=") == 2
    assert webhooks.verify(both, new, body) and webhooks.verify(both, old, body)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.1/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "ftp://127.0.0.1/",
        "http://user:pw@127.0.0.1/",
    ],
)
def test_internal_addresses_are_refused_by_default(url):
    with pytest.raises(webhooks.WebhookRefused):
        webhooks.check_url(url)


def test_the_allow_list_refuses_other_hosts(settings, admin_user, team, make_token):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com", "*.lms.example.org"]
    for url in ("https://other.example.net/x", "https://hooks.example.com.evil.test/x"):
        with pytest.raises(webhooks.WebhookRefused, match="allow-list"):
            webhooks.check_url(url, resolve=False)
    assert (
        webhooks.check_url("https://a.lms.example.org/x", resolve=False).host == "a.lms.example.org"
    )
    from tests.api.client import ApiClient

    _row, raw = make_token(admin_user, team, ("read", "admin"))
    r = ApiClient(raw).post(
        "/api/v1/webhooks/", {"url": "https://other.example.net/x", "events": ["batch.completed"]}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "webhook_url_refused"
    assert not Webhook.objects.exists()


def test_a_refused_address_gets_no_request_at_all(receiver, team):
    """Even a webhook stored before the rules changed: the delivery fails without a packet."""
    hook = Webhook.objects.create(team=team, url=receiver.url, events=["batch.completed"])
    delivery = WebhookDelivery.objects.create(webhook=hook, event="batch.completed", body="{}")
    from api.jobs import deliver

    assert deliver(delivery.pk) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert "internal address" in delivery.attempts[0]["error"] and receiver.requests == []


def test_a_failing_receiver_is_retried_then_marked_failed(
    receiver, loopback_allowed, use_redis, settings, team, django_capture_on_commit_callbacks
):
    """A real RQ worker (in this process, so it sees the test's rows) runs the job; RQ's Retry
    brings it back until the attempts are spent."""
    from rq import SimpleWorker
    from rq.job import Job

    from studio import queues

    receiver.status = 500
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_RETRY_INTERVALS_S = [0]
    hook = Webhook.objects.create(team=team, url=receiver.url, events=["task.failed"])
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = webhooks.emit(team, "task.failed", {"task": {"id": 7}})
    delivery.refresh_from_db()
    job = Job.fetch(delivery.job_id, connection=queues.connection(queues.QueueName.CPU))
    assert job.retries_left == 2 and job.retry_intervals == [0]
    worker = SimpleWorker([queues.get_queue(queues.QueueName.CPU)], connection=queues.connection())
    worker.work(burst=True)
    delivery.refresh_from_db()
    assert len(receiver.requests) == 3
    assert delivery.status == DeliveryStatus.FAILED and delivery.finished_at is not None
    assert [a["status_code"] for a in delivery.attempts] == [500, 500, 500]
    for got in receiver.requests:
        assert webhooks.verify(got.headers["HeyGem-Signature"], hook.secret, got.body)
        assert got.headers["HeyGem-Event"] == "task.failed"


def test_retry_intervals_default_to_a_back_off(
    use_redis, team, receiver, loopback_allowed, django_capture_on_commit_callbacks
):
    from rq.job import Job

    from studio import queues

    Webhook.objects.create(team=team, url=receiver.url, events=["task.failed"])
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = webhooks.emit(team, "task.failed", {})
    delivery.refresh_from_db()
    job = Job.fetch(delivery.job_id, connection=queues.connection(queues.QueueName.CPU))
    assert job.retries_left == 5 and job.retry_intervals == [10, 60, 300, 1800, 7200]


def test_send_test_event_and_replay_from_the_team_page(
    receiver, loopback_allowed, rq_sync, team, admin_client_, django_capture_on_commit_callbacks
):
    r = admin_client_.post(
        reverse("webhook_list"),
        {"url": receiver.url, "events": ["batch.completed"], "active": "on"},
    )
    assert r.status_code == 200 and b"webhook-secret-value" in r.content
    hook = Webhook.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client_.post(reverse("webhook_test", args=[hook.pk]))
    (first,) = receiver.requests
    event = json.loads(first.body)
    assert event["type"] == "webhook.test" and event["team"] == team.pk
    assert webhooks.verify(first.headers["HeyGem-Signature"], hook.secret, first.body)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.response_code == 200
    page = admin_client_.get(reverse("webhook_detail", args=[hook.pk]))
    assert b"webhook.test" in page.content and b"200" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        admin_client_.post(reverse("delivery_replay", args=[delivery.pk]))
    assert len(receiver.requests) == 2 and receiver.requests[1].body == first.body
    assert WebhookDelivery.objects.filter(replay_of=delivery).count() == 1


def test_members_do_not_manage_webhooks(member_client, team):
    hook = Webhook.objects.create(
        team=team, url="https://hooks.example.com/", events=["task.failed"]
    )
    assert member_client.get(reverse("webhook_list")).status_code == 403
    assert member_client.post(reverse("webhook_rotate", args=[hook.pk])).status_code == 403
