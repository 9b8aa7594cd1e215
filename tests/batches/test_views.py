"""Batch and media pages: creation, access control, file serving, zip, audit."""

from __future__ import annotations

import io
import os
import shutil
import zipfile

import pytest
from django.urls import reverse

from rendering.models import Batch, MediaAsset, RenderTask, TaskStatus
from rendering.services import batches as service
from studio.actor import Actor
from studio.models import AuditEvent


@pytest.fixture
def finished_batch(use_redis, library, member, media_root):
    """A batch of three where two renders succeeded (real MP4 files) and one failed."""
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project,
            audios=[library.hello],
            presenters=[library.anna, library.bo, library.broken],
            name="Launch 发布",
        ),
    )
    tasks = list(batch.tasks.order_by("position"))
    for task, presenter in zip(tasks[:2], [library.anna, library.bo]):
        rel = f"outputs/{batch.team_id}/{batch.pk}/{task.pk}.mp4"
        os.makedirs(os.path.dirname(media_root / rel), exist_ok=True)
        shutil.copy(media_root / presenter.file.name, media_root / rel)
        asset = MediaAsset.objects.create(
            team=batch.team,
            project=batch.project,
            batch=batch,
            task=task,
            presenter=presenter,
            audio=library.hello,
            title=str(task),
            download_name=f"{task.presenter_name}__{task.audio_name}.mp4",
            file=rel,
            size_bytes=(media_root / rel).stat().st_size,
            duration_s=1.5,
            created_by=member,
        )
        RenderTask.objects.filter(pk=task.pk).update(
            status=TaskStatus.SUCCEEDED, output=asset, percent=100
        )
    RenderTask.objects.filter(pk=tasks[2].pk).update(
        status=TaskStatus.FAILED, error="broken.mp4: not a media file"
    )
    batch.refresh_status()
    return batch


def test_member_creates_a_batch_from_the_form(
    use_redis, library, member_client, django_capture_on_commit_callbacks
):
    page = member_client.get(reverse("batch_create"), {"project": library.project.pk})
    assert page.status_code == 200
    assert (
        "安娜 Anna" in page.content.decode()
        and 'data-testid="preview-button"' in page.content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            reverse("batch_create"),
            {
                "project": library.project.pk,
                "audio": [library.hello.pk],
                "presenter": [library.anna.pk, library.bo.pk],
                "engine": "warp",
                "max_height": "720",
                "quality": "high",
            },
        )
    batch = Batch.objects.get()
    assert response.status_code == 302 and response["Location"] == batch.get_absolute_url()
    assert batch.max_height == 720 and batch.crf == 18 and batch.tasks.count() == 2
    detail = member_client.get(batch.get_absolute_url()).content.decode()
    assert detail.count('data-testid="task-row"') == 2
    assert 'id="batch-snapshot"' in detail and f"/ws/batches/{batch.pk}/" in detail
    event = AuditEvent.objects.get(action="batch_created")
    assert event.actor.username == "mia" and event.target_id == str(batch.pk)
    assert event.ip == "127.0.0.1"


def test_preview_button_makes_a_three_second_batch(use_redis, library, member_client):
    response = member_client.post(
        reverse("batch_preview"),
        {
            "project": library.project.pk,
            "audio": [library.long_audio.pk],
            "presenter": [library.bo.pk, library.anna.pk],
        },
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201
    batch = Batch.objects.get(pk=response.json()["id"])
    assert batch.is_preview and batch.preview_seconds == 3.0 and batch.tasks.count() == 1


def test_low_disk_form_shows_the_reason(use_redis, library, member_client, settings):
    settings.MIN_FREE_DISK_BYTES = 1 << 60
    response = member_client.post(
        reverse("batch_create"),
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenter": [library.anna.pk],
        },
    )
    assert response.status_code == 400
    assert "Not enough free disk space" in response.content.decode()
    assert not Batch.objects.exists()


def test_viewer_cannot_submit_or_cancel(use_redis, library, viewer_client, finished_batch):
    response = viewer_client.post(
        reverse("batch_create"),
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenter": [library.anna.pk],
        },
    )
    assert response.status_code == 403
    assert viewer_client.post(reverse("batch_cancel", args=[finished_batch.pk])).status_code == 403
    assert viewer_client.get(finished_batch.get_absolute_url()).status_code == 200


def test_outsider_gets_nothing(finished_batch, outsider_client):
    asset = MediaAsset.objects.first()
    task = finished_batch.tasks.first()
    urls = [
        finished_batch.get_absolute_url(),
        reverse("batch_status", args=[finished_batch.pk]),
        reverse("batch_zip", args=[finished_batch.pk]),
        reverse("media_file", args=[asset.pk]),
        reverse("media_download", args=[asset.pk]),
        reverse("media_detail", args=[asset.pk]),
        reverse("media_thumbnail", args=[asset.pk]),
        reverse("media_zip") + f"?id={asset.pk}",
    ]
    for url in urls:
        response = outsider_client.get(url)
        assert response.status_code == 404, url
        assert b"ftyp" not in b"".join(getattr(response, "streaming_content", [response.content]))
    for url in [
        reverse("batch_cancel", args=[finished_batch.pk]),
        reverse("task_cancel", args=[task.pk]),
        reverse("task_retry", args=[task.pk]),
        reverse("media_delete", args=[asset.pk]),
    ]:
        assert outsider_client.post(url).status_code == 404, url
    assert (
        outsider_client.get(reverse("media_library"))
        .content.decode()
        .count('data-testid="media-card"')
        == 0
    )
    assert MediaAsset.objects.count() == 2
    # No URL serves stored files without the team check, whoever asks.
    assert outsider_client.get("/media/" + asset.file.name).status_code == 404


def test_status_json_is_the_snapshot(finished_batch, member_client):
    data = member_client.get(reverse("batch_status", args=[finished_batch.pk])).json()
    assert data["type"] == "snapshot"
    # Percent is work done: the failed render counts nothing (2 of 3 succeeded).
    assert data["batch"]["status"] == "partial" and data["batch"]["percent"] == 66.7
    statuses = [t["status"] for t in data["tasks"]]
    assert statuses == ["succeeded", "succeeded", "failed"]
    assert data["tasks"][2]["error"] == "broken.mp4: not a media file"
    assert data["tasks"][0]["output"]["video_url"].endswith("/video.mp4")


def test_batch_zip_streams_stored_readable_names(finished_batch, member_client, media_root):
    response = member_client.get(reverse("batch_zip", args=[finished_batch.pk]))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    assert "filename*=utf-8''Launch%20%E5%8F%91%E5%B8%83.zip" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(data)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.namelist() == ["安娜 Anna__问候 Hello.mp4", "Bo__问候 Hello.mp4", "quality.csv"]
    assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
    asset = MediaAsset.objects.get(download_name="Bo__问候 Hello.mp4")
    assert archive.read("Bo__问候 Hello.mp4") == (media_root / asset.file.name).read_bytes()
    assert AuditEvent.objects.filter(action="zipped", data__files=2).exists()


def test_selection_zip_and_duplicate_names(finished_batch, member_client):
    ids = list(MediaAsset.objects.values_list("pk", flat=True))
    MediaAsset.objects.update(download_name="same.mp4")
    response = member_client.post(reverse("media_zip"), {"id": ids})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["same.mp4", "same (2).mp4", "quality.csv"]


def test_video_supports_range_requests(finished_batch, member_client, media_root):
    asset = MediaAsset.objects.first()
    whole = (media_root / asset.file.name).read_bytes()
    response = member_client.get(reverse("media_file", args=[asset.pk]), HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert b"".join(response.streaming_content) == whole[100:200]
    tail = member_client.get(reverse("media_file", args=[asset.pk]), HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == whole[-10:]
    bad = member_client.get(
        reverse("media_file", args=[asset.pk]), HTTP_RANGE=f"bytes={len(whole) + 5}-"
    )
    assert bad.status_code == 416
    full = member_client.get(reverse("media_download", args=[asset.pk]))
    assert full.status_code == 200 and b"".join(full.streaming_content) == whole
    assert "attachment" in full["Content-Disposition"]
    assert AuditEvent.objects.filter(action="downloaded").count() == 1


def test_x_accel_redirect_hands_the_file_to_the_web_server(finished_batch, member_client, settings):
    settings.SENDFILE_X_ACCEL = True
    asset = MediaAsset.objects.first()
    response = member_client.get(reverse("media_file", args=[asset.pk]))
    assert response["X-Accel-Redirect"] == "/protected-media/" + asset.file.name
    assert response.content == b""


def test_media_library_filters_searches_and_shows_disk_use(finished_batch, member_client):
    page = member_client.get(reverse("media_library")).content.decode()
    assert page.count('data-testid="media-card"') == 2
    assert 'data-testid="disk-usage"' in page and "Team disk use" in page
    found = member_client.get(reverse("media_library"), {"q": "Bo"}).content.decode()
    assert found.count('data-testid="media-card"') == 1


def test_delete_removes_file_and_row_and_is_audited(finished_batch, member_client, media_root):
    asset = MediaAsset.objects.first()
    path = media_root / asset.file.name
    response = member_client.post(reverse("media_delete", args=[asset.pk]))
    assert response.status_code == 302
    assert not path.exists() and not MediaAsset.objects.filter(pk=asset.pk).exists()
    assert AuditEvent.objects.filter(action="deleted", target_id=str(asset.pk)).exists()


def test_cancel_and_retry_via_json(
    finished_batch, member_client, django_capture_on_commit_callbacks
):
    failed = finished_batch.tasks.get(status=TaskStatus.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            reverse("batch_retry", args=[finished_batch.pk]), HTTP_ACCEPT="application/json"
        )
    assert response.json() == {"retried": 1}
    failed.refresh_from_db()
    assert failed.status == TaskStatus.QUEUED
    response = member_client.post(
        reverse("task_cancel", args=[failed.pk]), HTTP_ACCEPT="application/json"
    )
    assert response.json() == {"cancelled": 1}
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
        "batch_retried",
        "task_cancelled",
    }


def test_list_and_detail_pages_render(finished_batch, member_client):
    listing = member_client.get(reverse("batch_list")).content.decode()
    assert 'data-testid="batch-row"' in listing and "Launch 发布" in listing
    assert "Partly failed" in listing
    asset = MediaAsset.objects.first()
    detail = member_client.get(reverse("media_detail", args=[asset.pk])).content.decode()
    assert asset.download_name in detail and 'data-testid="media-video"' in detail
    page = member_client.get(finished_batch.get_absolute_url()).content.decode()
    assert page.count('data-testid="task-video"') == 2
    assert "broken.mp4: not a media file" in page


@pytest.mark.django_db(transaction=True)
def test_under_asgi_zip_and_video_stream_without_buffering(finished_batch, member):
    """Django buffers a sync iterator completely under ASGI; these responses must not."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    asset = MediaAsset.objects.first()

    async def fetch():
        client = AsyncClient()
        await client.aforce_login(member)
        out = {}
        for name, url in (
            ("zip", reverse("batch_zip", args=[finished_batch.pk])),
            ("video", reverse("media_file", args=[asset.pk])),
        ):
            response = await client.get(url)
            assert response.is_async, name
            out[name] = b"".join([part async for part in response.streaming_content])
        return out

    bodies = async_to_sync(fetch)()
    assert zipfile.ZipFile(io.BytesIO(bodies["zip"])).testzip() is None
    assert bodies["video"][4:8] == b"ftyp"
