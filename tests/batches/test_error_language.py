"""A task's error is stored untranslated and read in each viewer's language: on the batch
page, in status.json and over the websocket (published by a worker in English)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse
from django.utils import timezone, translation

from lipsync.errors import NoFaceError, UnsupportedMediaError
from rendering.models import RenderTask, TaskStatus
from rendering.progress import publish_task
from rendering.reconcile import reconcile
from rendering.services import batches as service
from studio.actor import Actor
from studio.notices import Notice, from_input_error, input_error

pytestmark = pytest.mark.django_db(transaction=True)

ZH_GAVE_UP = "工作进程 ghost 在渲染时停止响应（阶段：render）。 尝试 3 次后放弃。"


@pytest.fixture
def failed_task(use_redis, library, member):
    """A task whose worker died on its last attempt, failed by the real reconciler."""
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project, audios=[library.hello], presenters=[library.anna]
        ),
    )
    task = batch.tasks.get()
    old = timezone.now() - timedelta(minutes=2)
    RenderTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.RUNNING,
        attempts=3,
        worker_name="ghost",
        started_at=old,
        heartbeat_at=old,
        stage="render",
    )
    with translation.override("en"):  # the reconciler's process speaks English
        assert reconcile().failed == [task.pk]
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    return task


def test_failed_task_error_shows_in_chinese_on_the_zh_batch_page(failed_task, member_client):
    assert failed_task.error_message.endswith("Gave up after 3 attempts."), "English kept for logs"
    url = reverse("batch_detail", args=[failed_task.batch_id])
    zh = member_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    en = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ZH_GAVE_UP in zh and "Gave up" not in zh
    assert "The worker ghost stopped responding" in en and "Gave up after 3 attempts." in en


def test_status_json_error_follows_the_request_language(failed_task, member_client):
    url = reverse("batch_status", args=[failed_task.batch_id])
    zh = member_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    en = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").json()
    assert zh["tasks"][0]["error"] == ZH_GAVE_UP
    assert en["tasks"][0]["error"] == failed_task.error_message


def _communicator(client, batch_id, language):
    from heygem_site.asgi import application

    cookie = client.cookies["sessionid"].value
    return WebsocketCommunicator(
        application,
        f"/ws/batches/{batch_id}/",
        headers=[
            (b"cookie", f"sessionid={cookie}".encode()),
            (b"origin", b"http://localhost"),
            (b"accept-language", language.encode()),
        ],
    )


def test_websocket_translates_for_each_client(failed_task, member_client):
    def publish_in_english():
        with translation.override("en"):
            publish_task(RenderTask.objects.get(pk=failed_task.pk))

    async def conversation():
        zh = _communicator(member_client, failed_task.batch_id, "zh-CN,zh;q=0.9")
        en = _communicator(member_client, failed_task.batch_id, "en-US")
        assert (await zh.connect(timeout=20))[0] and (await en.connect(timeout=20))[0]
        snapshots = [await zh.receive_json_from(timeout=20), await en.receive_json_from(timeout=20)]
        await sync_to_async(publish_in_english)()
        updates = [await zh.receive_json_from(timeout=20), await en.receive_json_from(timeout=20)]
        await zh.disconnect()
        await en.disconnect()
        return snapshots, updates

    (zh_snap, en_snap), (zh_upd, en_upd) = async_to_sync(conversation)()
    assert zh_snap["tasks"][0]["error"] == ZH_GAVE_UP
    assert zh_snap["tasks"][0]["status_label"] == "失败"
    assert en_snap["tasks"][0]["error"] == failed_task.error_message
    assert zh_upd["task"]["error"] == ZH_GAVE_UP and zh_upd["task"]["status_label"] == "失败"
    assert en_upd["task"]["error"] == failed_task.error_message


def test_language_cookie_beats_accept_language():
    from rendering.consumers import scope_language

    scope = {"cookies": {"django_language": "zh-hans"}, "headers": [(b"accept-language", b"en")]}
    assert scope_language(scope) == "zh-hans"
    assert scope_language({"headers": [(b"accept-language", b"fr, zh-CN;q=0.5")]}) == "zh-hans"
    assert scope_language({"headers": []}) == "en"


def test_input_error_keeps_the_engines_reason_and_translates_ours():
    engine = from_input_error(
        UnsupportedMediaError("/media/x/1a2b.mp4", "not a media file"), "broken.mp4"
    )
    ours = from_input_error(NoFaceError("room.mp4", "no face was found in any frame"))
    export = "export it again as MP4 (H.264 video, AAC audio), or as a JPEG or PNG picture"
    assert engine.message == f"broken.mp4: not a media file — {export}"
    assert ours.message.startswith("room.mp4: no face was found in any frame — use a video")
    with translation.override("zh-hans"):
        assert engine.text() == (
            "broken.mp4：not a media file——请重新导出为 MP4（H.264 视频、AAC 音频），"
            "或 JPEG、PNG 图片"
        ), "an unknown reason shows as it came; the advice of its class is translated"
        assert ours.text() == (
            "room.mp4：所有画面帧中都没有找到人脸——请使用主播面部清晰可见、正对镜头的视频或照片"
        )
    assert Notice.from_json(ours.to_json()) == ours, "what a row stores reads back the same"


def test_a_failed_presenters_reason_keeps_its_template_in_the_task_error():
    """A render of a presenter whose check failed names the file once, translatably."""
    from types import SimpleNamespace

    from lipsync.faces.tracker import NO_FACE
    from rendering.jobs import OPEN_IT, _failed_input

    presenter = SimpleNamespace(
        original_filename="empty room.mp4",
        name="empty room",
        error=input_error("empty room.mp4", NO_FACE),
    )
    exc = _failed_input(presenter, "fallback")
    assert str(exc) == f"empty room.mp4: {NO_FACE} — {OPEN_IT}", "a row stored without advice"
    assert exc.template == NO_FACE
    presenter.error = input_error("empty room.mp4", NO_FACE, None, NoFaceError.advice)
    exc = _failed_input(presenter, "fallback")
    assert str(exc) == f"empty room.mp4: {NO_FACE} — {NoFaceError.advice}", "the check's advice"

    without = SimpleNamespace(original_filename="a.mp4", name="a", error=None)
    assert str(_failed_input(without, "the presenter could not be prepared")) == (
        f"a.mp4: the presenter could not be prepared — {OPEN_IT}"
    )
