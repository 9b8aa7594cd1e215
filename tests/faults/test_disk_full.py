"""A full disk (issue 9, item 8) on a real, small file system (a tmpfs as ``MEDIA_ROOT``).

* An upload through the chunk API whose disk fills up part way answers a JSON 507 with a
  translated message, keeps nothing past its recorded offset, and goes on from that offset
  once there is room again.
* A render whose output no longer fits, on a real worker process, fails at once (one attempt,
  no retries) with "the server's disk is full" and no path or errno text, leaves no file and no
  media asset behind, and renders after "Retry" once space is freed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.urls import reverse

from tests.batches.conftest import clip_files  # noqa: F401  (media for the library rows)
from tests.batches.conftest import library as batch_library  # noqa: F401  (used by name)
from tests.conftest import REPO
from tests.engine.mediagen import make_speech_wav

from .diskfull import files_under, fill, small_filesystem

#: What no message for people may contain (server paths and the OS error's words).
LEAKS = ("/", "Errno", "28", "No space left", "ENOSPC", "tmpfs")


@pytest.fixture
def media_root(tmp_path, settings):
    """MEDIA_ROOT on a tmpfs of 8 MiB (replaces the shared fixture of the same name)."""
    from studio.services.storage import mark_media_store

    with small_filesystem(tmp_path / "small-disk", "8m") as root:
        settings.MEDIA_ROOT = root
        settings.LIPSYNC_CACHE_DIR = str(root / "tracks")
        # The refusals that look ahead (quotas, new batches) would keep this test from ever
        # reaching a full disk: here the disk fills up under work already accepted.
        settings.MIN_FREE_DISK_BYTES = 0
        mark_media_store()
        yield root


def test_chunk_upload_on_a_full_disk_keeps_its_offset_and_resumes(
    media_root, member_client, team, member, tmp_path, settings, use_redis
):
    from studio.models import AudioTrack, Project, Upload

    settings.UPLOAD_CHUNK_BYTES = 256 * 1024  # chunks of up to 512 KiB
    project = Project.objects.create(team=team, name="Week 1", created_by=member)
    source = make_speech_wav(tmp_path / "lecture.wav", seconds=20.0)  # 640 KB of 16 kHz PCM
    data = source.read_bytes()
    half = 256 * 1024

    created = member_client.post(
        reverse("upload_create"),
        json.dumps(
            {"filename": "lecture.wav", "size": len(data), "kind": "audio", "project": project.pk}
        ),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    url = reverse("upload_detail", args=[created.json()["id"]])
    upload = Upload.objects.get(pk=created.json()["id"])

    def put(offset: int, chunk: bytes, **headers):
        return member_client.generic(
            "PUT",
            url,
            chunk,
            content_type="application/octet-stream",
            HTTP_UPLOAD_OFFSET=str(offset),
            HTTP_ACCEPT="application/json",
            **headers,
        )

    assert put(0, data[:half]).json()["offset"] == half
    # Another process fills the disk, leaving room for a part of the next chunk only.
    filler = fill(media_root, leave=64 * 1024)
    refused = put(half, data[half:])
    assert refused.status_code == 507
    assert refused["Content-Type"].startswith("application/json")
    body = refused.json()
    assert body["code"] == "disk_full" and body["offset"] == half
    assert body["error"].startswith("The server's disk is full: the upload stopped at 256.0 KB")
    assert "Ask an administrator to free space" in body["error"]
    assert not any(leak in body["error"] for leak in LEAKS), body["error"]
    # Nothing past the recorded offset is left on disk.
    upload.refresh_from_db()
    assert upload.offset == half and upload.state == Upload.State.OPEN
    assert Path(upload.part_path).stat().st_size == half
    # In the reader's language.
    chinese = put(half, data[half:], HTTP_ACCEPT_LANGUAGE="zh-hans").json()["error"]
    assert "磁盘已满" in chinese and not any(leak in chinese for leak in LEAKS), chinese
    assert member_client.get(url).json()["offset"] == half

    # Space is back: the upload goes on where it stopped and becomes the audio track.
    filler.unlink()
    assert put(half, data[half:]).json()["offset"] == len(data)
    done = member_client.post(reverse("upload_complete", args=[upload.pk]))
    assert done.status_code == 201, done.content
    track = AudioTrack.objects.get(pk=done.json()["object"]["id"])
    stored = Path(media_root) / track.file.name
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_form_upload_on_a_full_disk_names_the_file_and_keeps_nothing(
    media_root, member_client, team, member, tmp_path, settings, use_redis
):
    """The multipart form (no script): the file is refused with a reason, nothing is stored."""
    from studio.models import AudioTrack, AuditEvent, Project

    project = Project.objects.create(team=team, name="Week 2", created_by=member)
    source = make_speech_wav(tmp_path / "lecture.wav", seconds=10.0)
    before = files_under(media_root)
    fill(media_root, leave=16 * 1024)
    # The look-ahead (declared bytes against free disk) said yes a moment ago: another
    # process has taken the space since. A negative reserve lets the request get that far.
    settings.MIN_FREE_DISK_BYTES = -(1 << 30)
    with open(source, "rb") as fh:
        response = member_client.post(
            reverse("audio_upload", args=[project.pk]),
            {"files": fh},
            HTTP_ACCEPT="application/json",
        )
    assert response.status_code == 400, response.content
    (error,) = response.json()["errors"]
    assert error == (
        "lecture.wav: the server's disk is full; ask an administrator to free space, then "
        "upload it again"
    )
    assert not AudioTrack.objects.exists()
    assert AuditEvent.objects.filter(action="upload_rejected").count() == 1
    assert files_under(media_root) == sorted([*before, "filler.bin"])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_render_on_a_full_disk_fails_once_with_a_clear_reason_and_leaves_nothing(
    media_root,
    request,
    member,
    member_client,
    use_redis,
    subprocess_env,
    tmp_path,
):
    from django.utils import translation

    from lipsync.engines import get_engine
    from rendering.models import MediaAsset, TaskStatus
    from rendering.services import batches as service
    from studio.actor import Actor

    library = request.getfixturevalue("batch_library")  # rows and files on the small disk
    # The presenter's face track is in the cache already (as after its face check), so the
    # render's first write is the video itself.
    presenter = Path(media_root) / library.anna.file.name
    get_engine("warp", device="cpu", cache_dir=str(media_root / "tracks")).prepare(str(presenter))
    filler = fill(media_root, leave=8 * 1024)

    spec = service.BatchSpec(
        project=library.project, audios=[library.hello], presenters=[library.anna], max_height=240
    )
    batch = service.create_batch(Actor.of(member), spec)
    task = batch.tasks.get()
    env = dict(subprocess_env, LIPSYNC_DEVICE="cpu", RENDER_RETRY_INTERVALS_S="1,1")
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "gpu", "--name", "diskfull-gpu"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        task = _wait_for(task, {TaskStatus.FAILED, TaskStatus.SUCCEEDED}, worker, log_path)
        assert task.status == TaskStatus.FAILED, log_path.read_text()
        assert task.error.code == "disk_full"
        english = task.error_text
        assert english.startswith("The server's disk is full, so the video could not be saved.")
        with translation.override("zh-hans"):
            chinese = task.error.text()
        assert "磁盘已满" in chinese
        for text in (english, chinese):
            assert not any(leak in text for leak in LEAKS), text
        # What the batch page's script receives says the same, nothing more.
        shown = member_client.get(reverse("batch_status", args=[batch.pk])).json()
        assert shown["tasks"][0]["error"] == english
        # The path and the OS error are for the operator, in the worker's log.
        assert "No space left on device" in log_path.read_text()
        # No partial file (not even a hidden .part.mp4) and no media asset.
        assert not [f for f in files_under(media_root) if f.startswith("outputs")]
        assert not MediaAsset.objects.exists()
        # Tried once: no retry comes after the 1 s retry interval.
        time.sleep(4)
        task.refresh_from_db()
        assert (task.status, task.attempts) == (TaskStatus.FAILED, 1), log_path.read_text()
        assert task.retryable

        # Space is freed; "Retry" renders it.
        filler.unlink()
        assert service.retry_task(Actor.of(member), task)
        task = _wait_for(task, {TaskStatus.SUCCEEDED, TaskStatus.FAILED}, worker, log_path)
        assert task.status == TaskStatus.SUCCEEDED, (task.error_text, log_path.read_text())
        assert (Path(media_root) / task.output.file.name).stat().st_size > 0
    finally:
        worker.kill()
        worker.wait(timeout=30)


def _wait_for(task, statuses, worker, log_path, timeout_s: float = 180):
    from rendering.models import RenderTask

    deadline = time.monotonic() + timeout_s
    while True:
        task = RenderTask.objects.get(pk=task.pk)
        if task.status in statuses:
            return task
        assert worker.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, f"task stays {task.status}:\n{log_path.read_text()}"
        time.sleep(0.2)
