"""End to end: a batch made through the API is rendered by a real worker process, which sends
a correctly signed ``batch.completed`` (and ``task.succeeded``) to a receiver on loopback; the
client then fetches the zip through the API, with the batch's file name template."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

from api import webhooks
from api.models import DeliveryStatus, WebhookDelivery
from tests.api.client import ApiClient
from tests.api.receiver import Receiver
from tests.batches.test_e2e import Stack

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stack(tmp_path, use_redis, media_root, settings):
    s = Stack(tmp_path, use_redis.url, media_root, settings)
    yield s
    s.stop()


def test_a_real_batch_sends_a_signed_batch_completed(
    stack, library, member, admin_user, team, make_token, settings
):
    receiver = Receiver().start()
    try:
        settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        stack.env["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
        _row, admin_raw = make_token(admin_user, team, ("read", "admin"))
        hook = ApiClient(admin_raw).post(
            "/api/v1/webhooks/",
            {"url": receiver.url, "events": ["batch.completed", "task.succeeded"]},
        )
        assert hook.status_code == 201, hook.json()
        secret = hook.json()["secret"]
        _row, raw = make_token(member, team)
        client = ApiClient(raw)
        r = client.post(
            "/api/v1/batches/",
            {
                "project": library.project.pk,
                "audio": [library.hello.pk],
                "presenters": [library.anna.pk, library.bo.pk],
                "output_template": "{audio}/{presenter}.mp4",
            },
            headers={"Idempotency-Key": "e2e"},
        )
        assert r.status_code == 201, r.json()
        batch_id = r.json()["id"]
        stack.start_worker("api-w1")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if any(q.headers.get("HeyGem-Event") == "batch.completed" for q in receiver.requests):
                break
            time.sleep(0.2)
        events = [q.headers.get("HeyGem-Event") for q in receiver.requests]
        assert "batch.completed" in events, (events, stack.logs())
        done = next(q for q in receiver.requests if q.headers["HeyGem-Event"] == "batch.completed")
        assert webhooks.verify(done.headers["HeyGem-Signature"], secret, done.body)
        payload = json.loads(done.body)
        assert payload["type"] == "batch.completed" and payload["team"] == team.pk
        assert payload["data"]["batch"]["id"] == batch_id
        assert payload["data"]["batch"]["status"] == "succeeded"
        assert events.count("batch.completed") == 1 and events.count("task.succeeded") == 2
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {
            DeliveryStatus.SUCCEEDED
        }
        polled = client.get(f"/api/v1/batches/{batch_id}/").json()
        assert polled["status"] == "succeeded" and polled["percent"] == 100.0
        z = client.get(payload["data"]["batch"]["zip_url"])
        assert z.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(b"".join(z.streaming_content))).namelist()
        assert names == ["问候 Hello/安娜 Anna.mp4", "问候 Hello/Bo.mp4", "quality.csv"]
    finally:
        receiver.stop()
