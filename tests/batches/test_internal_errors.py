"""An engine stage that fails in a real worker run (in-process StudioWorker, real Redis).

People read a short translated "internal error in <stage>, reference <id>", never the
exception's text; the traceback is in the worker's log under that reference; a failure that
repeats on the same input is not retried again; a task waiting for a retry says so.
"""

from __future__ import annotations

import logging
import re

import pytest
from django.urls import reverse
from django.utils import translation

from lipsync.engines.warp import _WarpPass
from rendering.models import TaskStatus

from .test_worker import fresh_worker_state, run_worker, submit  # noqa: F401  (the fixture)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_worker_state"),
]

SECRET = "boom in /srv/secret/path (simulated)"


@pytest.fixture
def failing_mouth(monkeypatch):
    """The warp engine's mouth stage raises a RuntimeError on every frame pass."""
    calls = []

    def broken(self, items, writer, tracker):
        calls.append(1)
        raise RuntimeError(SECRET)

    monkeypatch.setattr(_WarpPass, "run", broken)
    return calls


def test_a_failing_stage_shows_a_translated_reference_and_is_not_retried_into_it(
    use_redis, library, member, member_client, failing_mouth, caplog
):
    caplog.set_level(logging.ERROR, logger="rendering.jobs")
    batch = submit(member, library, [library.bo])
    run_worker("gpu")
    task = batch.tasks.get()

    assert task.status == TaskStatus.FAILED
    assert task.max_attempts == 3
    assert len(failing_mouth) == 2 and task.attempts == 2, (
        "retried once (it may have been transient), not again after failing the same way"
    )
    assert task.error.code == "internal" and task.failure_fingerprint

    with translation.override("en"):
        english = task.error_text
    with translation.override("zh-hans"):
        chinese = task.error_text
    found = re.search(
        r"Internal error in the mouth drawing step \(reference ([0-9a-f]{10})\)", english
    )
    assert found, english
    ref = found.group(1)
    assert ref in chinese and "嘴部绘制步骤" in chinese and "Internal" not in chinese
    for text in (english, chinese, task.error_message):
        assert "boom" not in text and "RuntimeError" not in text and "/srv" not in text

    # the traceback is in the worker's log under that very reference
    logged = [r for r in caplog.records if ref in r.getMessage()]
    assert logged and logged[-1].exc_info is not None
    assert logged[-1].exc_info[0] is RuntimeError and SECRET in str(logged[-1].exc_info[1])

    # the batch page and its JSON read it in the viewer's language
    status_url = reverse("batch_status", args=[batch.pk])
    zh = member_client.get(status_url, HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    en = member_client.get(status_url, HTTP_ACCEPT_LANGUAGE="en").json()
    assert en["tasks"][0]["error"] == english and zh["tasks"][0]["error"] == chinese
    page = member_client.get(reverse("batch_detail", args=[batch.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert ref in page.content.decode() and "boom" not in page.content.decode()


def test_a_different_failure_on_the_next_attempt_is_retried(
    use_redis, library, member, monkeypatch
):
    """Only the same failure twice stops the retries: here the stage differs each time."""
    from lipsync.media.writer import VideoWriter

    calls = []
    real_run, real_write = _WarpPass.run, VideoWriter.write

    def mouth(self, items, writer, tracker):
        calls.append("mouth")
        if len(calls) == 1:
            raise RuntimeError("first")
        return real_run(self, items, writer, tracker)

    def encode(self, image):
        if calls == ["mouth", "mouth"]:
            calls.append("encode")
            raise RuntimeError("second")
        return real_write(self, image)

    monkeypatch.setattr(_WarpPass, "run", mouth)
    monkeypatch.setattr(VideoWriter, "write", encode)
    batch = submit(member, library, [library.bo])
    run_worker("gpu")
    task = batch.tasks.get()
    assert calls == ["mouth", "mouth", "encode", "mouth"]
    assert task.status == TaskStatus.SUCCEEDED and task.attempts == 3
    assert task.failure_fingerprint, "the last failure is kept for the record"


def test_a_task_waiting_for_its_retry_says_so_with_the_time_left(
    use_redis, library, member, member_client, failing_mouth, settings
):
    settings.RENDER_RETRY_INTERVALS_S = [30]
    batch = submit(member, library, [library.bo])
    run_worker("gpu")  # the first attempt fails; its retry waits 30 s in RQ's scheduler
    task = batch.tasks.get()
    assert task.status == TaskStatus.QUEUED and task.attempts == 1
    assert 25 < task.retry_in_s <= 30
    with translation.override("en"):
        assert re.fullmatch(r"Retrying in (2[6-9]|30) s \(attempt 2 of 3\)", task.status_label)
    with translation.override("zh-hans"):
        assert re.fullmatch(r"(2[6-9]|30) 秒后重试（第 2 次，共 3 次）", task.status_label)

    data = member_client.get(reverse("batch_status", args=[batch.pk])).json()["tasks"][0]
    assert data["status"] == "queued" and 25 < data["retry_in_s"] <= 30
    assert data["status_label"].startswith("Retrying in ") and data["max_attempts"] == 3
    assert data["eta_s"] is None, "no ETA left over from the failed attempt"
    page = member_client.get(reverse("batch_detail", args=[batch.pk])).content.decode()
    assert "(attempt 2 of 3)" in page
    from api.serializers import TaskSerializer

    with translation.override("en"):
        api = TaskSerializer(task).data
    assert api["status"] == "queued" and api["status_label"].startswith("Retrying in ")
    assert 25 < api["retry_in_s"] <= 30 and api["max_attempts"] == 3
