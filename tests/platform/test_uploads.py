"""Upload paths: the resumable protocol and the plain multipart form, good and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from studio.models import AudioTrack, AuditAction, AuditEvent, MediaStatus, Presenter, Upload

from .helpers import chunked_upload, media_files_in

pytestmark = pytest.mark.django_db


def _create(client, filename, size, kind="presenter", project=None):
    return client.post(
        reverse("upload_create"),
        json.dumps(
            {
                "filename": filename,
                "size": size,
                "kind": kind,
                "project": project.pk if project else None,
            }
        ),
        content_type="application/json",
    )


def _put(client, upload_id, offset, data):
    return client.put(
        reverse("upload_detail", args=[upload_id]),
        data,
        content_type="application/octet-stream",
        headers={"Upload-Offset": str(offset)},
    )


def test_chunked_video_becomes_a_presenter(member_client, team, member, media_files, media_root):
    r = chunked_upload(member_client, media_files.video, chunk=10_000)
    assert r.status_code == 201, r.content
    body = r.json()
    p = Presenter.objects.get(pk=body["object"]["id"])
    assert p.team == team and p.created_by == member
    assert p.name == "anna clip" and p.original_filename == "anna clip.mp4"
    assert (p.width, p.height, p.kind) == (320, 240, "video")
    assert p.fps == pytest.approx(25.0)
    assert p.duration_s == pytest.approx(0.6, abs=0.05)
    assert p.size_bytes == Path(media_files.video).stat().st_size
    stored = Path(p.file.path)
    assert stored.read_bytes() == Path(media_files.video).read_bytes()
    assert "anna" not in stored.name and stored.suffix == ".mp4"
    # Redis is not reachable in this test: the presenter says so instead of hanging
    assert p.status == MediaStatus.PROCESSING
    assert body["state"] == "done" and body["result"]["url"] == p.get_absolute_url()
    assert not list((media_root / "uploads").glob("*.part"))
    assert AuditEvent.objects.filter(action=AuditAction.UPLOADED, target_id=str(p.pk)).exists()


def test_queue_unreachable_marks_presenter_failed(
    member_client, media_files, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = chunked_upload(member_client, media_files.photo)
    p = Presenter.objects.get(pk=r.json()["object"]["id"])
    assert p.status == MediaStatus.FAILED and "queue is not reachable" in p.error_message


def test_resume_after_a_dropped_connection(member_client, media_files, media_root):
    data = Path(media_files.photo).read_bytes()
    uid = _create(member_client, "bert.jpg", len(data)).json()["id"]
    assert _put(member_client, uid, 0, data[:5000]).json()["offset"] == 5000
    # the client lost the answer and sends the same chunk again: told where the server is
    again = _put(member_client, uid, 0, data[:5000])
    assert again.status_code == 409 and again.json()["offset"] == 5000
    state = member_client.get(reverse("upload_detail", args=[uid])).json()
    assert state["offset"] == 5000 and state["state"] == "open"
    early = member_client.post(reverse("upload_complete", args=[uid]))
    assert early.status_code == 409
    assert _put(member_client, uid, 5000, data[5000:]).json()["offset"] == len(data)
    done = member_client.post(reverse("upload_complete", args=[uid]))
    assert done.status_code == 201
    p = Presenter.objects.get(pk=done.json()["object"]["id"])
    assert Path(p.file.path).read_bytes() == data and p.kind == "image"


def test_more_bytes_than_declared_is_refused(member_client, media_root):
    uid = _create(member_client, "x.mp4", 10).json()["id"]
    r = _put(member_client, uid, 0, b"0123456789ABC")
    assert r.status_code == 413 and r.json()["offset"] == 0
    assert Upload.objects.get(pk=uid).offset == 0
    assert _put(member_client, uid, 0, b"").json()["offset"] == 0
    bad = member_client.put(
        reverse("upload_detail", args=[uid]), b"x", content_type="application/octet-stream"
    )
    assert bad.status_code == 400


def test_too_large_and_empty_are_refused(member_client, settings, media_root):
    settings.MAX_UPLOAD_BYTES = 1000
    r = _create(member_client, "big.mp4", 1001)
    assert r.status_code == 413 and "big.mp4: file is larger than the limit" in r.json()["error"]
    assert _create(member_client, "zero.mp4", 0).status_code == 400
    assert _create(member_client, "", 10).status_code == 400
    assert (
        member_client.post(
            reverse("upload_create"), "nope", content_type="application/json"
        ).status_code
        == 400
    )
    assert not Upload.objects.exists()


@pytest.mark.parametrize(
    "name,expected",
    [
        ("notes", "notes.txt: not a media file"),
        ("truncated", "cut.mp4: "),
        ("unknown_codec", "odd.avi: unsupported video codec"),
        ("speech", "intro.wav: has no video"),
    ],
)
def test_bad_presenter_files_store_nothing(
    member_client, team, media_files, media_root, name, expected
):
    path = getattr(media_files, name)
    r = chunked_upload(member_client, path)
    assert r.status_code == 422
    assert r.json()["error"].startswith(expected), r.json()
    assert not Presenter.objects.exists()
    assert media_files_in(media_root) == []
    upload = Upload.objects.get()
    assert upload.state == "failed" and upload.error_message == r.json()["error"]
    assert AuditEvent.objects.filter(action=AuditAction.UPLOAD_REJECTED, team=team).exists()


def test_viewer_cannot_upload(viewer_client, project, media_files, media_root):
    assert _create(viewer_client, "a.mp4", 100).status_code == 403
    assert _create(viewer_client, "a.wav", 100, "audio", project).status_code == 403
    with open(media_files.photo, "rb") as fh:
        assert viewer_client.post(reverse("presenter_upload"), {"files": [fh]}).status_code == 403
    with open(media_files.speech, "rb") as fh:
        assert (
            viewer_client.post(
                reverse("audio_upload", args=[project.pk]), {"files": [fh]}
            ).status_code
            == 403
        )
    assert not Upload.objects.exists() and not Presenter.objects.exists()
    assert media_files_in(media_root) == []


def test_uploads_of_others_are_404(
    member_client, admin_client_, outsider_client, project, media_root
):
    uid = _create(member_client, "a.mp4", 100).json()["id"]
    for client in (admin_client_, outsider_client):
        assert client.get(reverse("upload_detail", args=[uid])).status_code == 404
        assert _put(client, uid, 0, b"x").status_code == 404
        assert client.post(reverse("upload_complete", args=[uid])).status_code == 404
    assert _create(outsider_client, "a.wav", 100, "audio", project).status_code == 404


def test_abort_removes_the_partial_file(member_client, media_root):
    uid = _create(member_client, "a.mp4", 100).json()["id"]
    _put(member_client, uid, 0, b"x" * 50)
    assert member_client.delete(reverse("upload_detail", args=[uid])).status_code == 200
    assert not Upload.objects.exists()
    assert media_files_in(media_root) == []


@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a", "flac", "ogg"])
def test_audio_formats_by_chunked_upload(member_client, project, media_files, media_root, fmt):
    r = chunked_upload(member_client, media_files.audio[fmt], kind="audio", project=project)
    assert r.status_code == 201, r.content
    t = AudioTrack.objects.get(pk=r.json()["object"]["id"])
    assert t.project == project and t.name == "voice"
    assert t.duration_s == pytest.approx(1.0, abs=0.1)
    assert t.sample_rate in (16000, 48000) and t.channels == 1
    assert r.json()["result"]["url"] == t.get_absolute_url()


def test_audio_needs_a_sound_stream(member_client, project, media_files, media_root):
    r = chunked_upload(member_client, media_files.video, kind="audio", project=project)
    assert r.status_code == 422 and "anna clip.mp4: has no audio stream" in r.json()["error"]
    r = chunked_upload(member_client, media_files.notes, kind="audio", project=project)
    assert r.status_code == 422 and r.json()["error"].startswith("notes.txt: not a media file")
    assert not AudioTrack.objects.exists() and media_files_in(media_root) == []


def test_audio_without_a_project_goes_to_the_audio_library(
    member_client, team, project, media_files, media_root
):
    r = chunked_upload(member_client, media_files.audio["wav"], kind="audio")
    assert r.status_code == 201, r.content
    track = AudioTrack.objects.get(pk=r.json()["object"]["id"])
    assert track.team == team and track.project is None
    assert track.file.name.startswith(f"audio/{team.pk}/")
    r = chunked_upload(member_client, media_files.audio["mp3"], kind="audio", project=project)
    assert AudioTrack.objects.get(pk=r.json()["object"]["id"]).project == project


def test_complete_is_idempotent(member_client, media_files, media_root):
    """The connection dropped while the server finished the upload: calling ``complete``
    again answers with the same presenter; nothing is sent or made twice."""
    first = chunked_upload(member_client, media_files.photo)
    assert first.status_code == 201
    uid = first.json()["id"]
    again = member_client.post(reverse("upload_complete", args=[uid]))
    assert again.status_code == 201
    assert again.json()["object"] == first.json()["object"]
    assert Presenter.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.UPLOADED).count() == 1
    # A refused file stays refused, with the same message.
    bad = chunked_upload(member_client, media_files.notes)
    assert bad.status_code == 422
    refused = Upload.objects.get(state=Upload.State.FAILED)
    repeat = member_client.post(reverse("upload_complete", args=[refused.pk]))
    assert repeat.status_code == 422 and repeat.json()["error"] == bad.json()["error"]
    assert AuditEvent.objects.filter(action=AuditAction.UPLOAD_REJECTED).count() == 1


def test_multipart_presenter_upload_good_and_bad(member_client, media_files, media_root):
    with open(media_files.png, "rb") as good, open(media_files.notes, "rb") as bad:
        r = member_client.post(
            reverse("presenter_upload"),
            {"files": [good, bad]},
            headers={"Accept": "application/json"},
        )
    assert r.status_code == 207
    body = r.json()
    assert [c["name"] for c in body["created"]] == ["carla"]
    assert body["errors"][0].startswith("notes.txt: not a media file")
    assert Presenter.objects.get().kind == "image"
    with open(media_files.notes, "rb") as bad:
        page = member_client.post(reverse("presenter_upload"), {"files": [bad]}, follow=True)
    assert "notes.txt: not a media file" in page.content.decode()
    assert Presenter.objects.count() == 1
    assert len(media_files_in(media_root)) == 1


def test_multipart_audio_upload(member_client, project, media_files, media_root):
    with open(media_files.audio["mp3"], "rb") as fh:
        r = member_client.post(reverse("audio_upload", args=[project.pk]), {"files": [fh]})
    assert r.status_code == 302
    t = AudioTrack.objects.get()
    assert t.codec == "mp3" and t.project == project
    page = member_client.get(reverse("project_detail", args=[project.pk]))
    assert "voice" in page.content.decode()


def test_multipart_respects_the_size_limit(member_client, media_files, settings, media_root):
    settings.MAX_UPLOAD_BYTES = 100
    with open(media_files.photo, "rb") as fh:
        r = member_client.post(
            reverse("presenter_upload"), {"files": [fh]}, headers={"Accept": "application/json"}
        )
    assert r.status_code == 400 and "larger than the limit" in r.json()["errors"][0]
    assert not Presenter.objects.exists()


def test_member_deletes_presenter_and_files(
    member_client, media_files, media_root, django_capture_on_commit_callbacks
):
    r = chunked_upload(member_client, media_files.photo)
    p = Presenter.objects.get(pk=r.json()["object"]["id"])
    path = Path(p.file.path)
    assert member_client.get(reverse("presenter_delete", args=[p.pk])).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(reverse("presenter_delete", args=[p.pk]))
    assert not Presenter.objects.exists() and not path.exists()
    assert AuditEvent.objects.filter(action=AuditAction.DELETED, target_id=str(p.pk)).exists()


def test_purge_removes_stale_uploads_only(member_client, media_root):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    old = _create(member_client, "old.mp4", 100).json()["id"]
    _put(member_client, old, 0, b"x" * 10)
    fresh = _create(member_client, "new.mp4", 100).json()["id"].replace("-", "")
    Upload.objects.filter(pk=old).update(updated_at=timezone.now() - timedelta(hours=49))
    call_command("purge_uploads")
    assert list(Upload.objects.values_list("filename", flat=True)) == ["new.mp4"]
    assert [p.name for p in media_files_in(media_root)] == [f"{fresh}.part"]


def test_real_footage_uploads(member_client, project, shared_media, media_root):
    """The real presenter clip and speech track go through the same paths."""
    r = chunked_upload(member_client, shared_media / "sun.mp4", chunk=1024 * 1024)
    assert r.status_code == 201, r.content
    p = Presenter.objects.get(pk=r.json()["object"]["id"])
    assert (p.width, p.height, round(p.fps)) == (576, 768, 25)
    assert p.duration_s == pytest.approx(22, abs=0.5) and not p.has_audio
    r = chunked_upload(
        member_client, shared_media / "eng.wav", kind="audio", project=project, chunk=512 * 1024
    )
    t = AudioTrack.objects.get(pk=r.json()["object"]["id"])
    assert t.duration_s == pytest.approx(60, abs=0.5) and t.sample_rate == 16000
