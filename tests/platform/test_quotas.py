"""Quotas: a team's storage, a user's open uploads, declared bytes against the free disk.

Enforced in the services (``create_upload``, ``create_batch``, the multipart form's intake),
so every way in gets them; the JSON API answers with the notice in the reader's language.
The free-disk test runs on a real, small tmpfs (root only; skipped elsewhere).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from rendering.models import Batch, MediaAsset
from studio.models import AuditAction, AuditEvent, Presenter, Upload
from studio.services import quotas, uploads
from studio.services.storage import free_disk_bytes

pytestmark = pytest.mark.django_db

MB = 1024**2


def _create(client, size, name="clip.mp4", **headers):
    return client.post(
        reverse("upload_create"),
        json.dumps({"filename": name, "size": size, "kind": "presenter"}),
        content_type="application/json",
        **headers,
    )


def _stored(team, member, presenters=0, outputs=0):
    if presenters:
        Presenter.objects.create(
            team=team, name="p", file="presenters/x.mp4", size_bytes=presenters, created_by=member
        )
    if outputs:
        from studio.models import Project

        project = Project.objects.create(team=team, name="P", created_by=member)
        batch = Batch.objects.create(team=team, project=project, name="b", engine="warp")
        MediaAsset.objects.create(
            team=team, batch=batch, title="t", file="outputs/x.mp4", size_bytes=outputs
        )


def test_team_storage_counts_presenters_audio_outputs_and_open_uploads(
    team, member, settings, media_root
):
    settings.TEAM_STORAGE_QUOTA_BYTES = 100 * MB
    _stored(team, member, presenters=30 * MB, outputs=40 * MB)
    usage = quotas.team_storage(team)
    assert (usage.stored, usage.pending, usage.left) == (70 * MB, 0, 30 * MB)
    first = uploads.create_upload(member, team, "presenter", "a.mp4", 20 * MB)
    assert quotas.team_storage(team).pending == 20 * MB
    with pytest.raises(quotas.QuotaExceeded) as refused:
        uploads.create_upload(member, team, "presenter", "b.mp4", 20 * MB)
    assert refused.value.code == "team_storage" and refused.value.status == 413
    text = refused.value.text()
    assert "90.0 MB of its 100.0 MB storage quota" in text and "(20.0 MB) does not fit" in text
    assert "Delete videos in the media library" in text
    uploads.abort(first)
    assert uploads.create_upload(member, team, "presenter", "b.mp4", 20 * MB)


def test_the_upload_api_answers_the_quota_in_the_readers_language(
    team, member, member_client, settings, media_root
):
    settings.TEAM_STORAGE_QUOTA_BYTES = 10 * MB
    _stored(team, member, presenters=9 * MB)
    r = _create(member_client, 2 * MB)
    assert r.status_code == 413
    body = r.json()
    assert body["code"] == "team_storage" and "storage quota" in body["error"]
    zh = _create(member_client, 2 * MB, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert zh.status_code == 413 and "存储配额" in zh.json()["error"]
    assert not Upload.objects.exists(), "nothing is kept of a refused upload"
    assert _create(member_client, MB // 2).status_code == 201


def test_one_user_cannot_hold_more_open_uploads_than_the_limit(
    team, member, owner, member_client, settings, media_root
):
    """Issue 9, item 12: one user opened 50 uploads declaring 2 GiB each."""
    settings.USER_MAX_OPEN_UPLOADS = 3
    ids = [_create(member_client, MB).json()["id"] for _ in range(3)]
    refused = _create(member_client, MB)
    assert refused.status_code == 429
    assert refused.json()["code"] == "open_uploads"
    assert "3 unfinished uploads" in refused.json()["error"]
    # Another user of the team is not affected; an abandoned upload frees a place.
    assert uploads.create_upload(owner, team, "presenter", "o.mp4", MB)
    member_client.delete(reverse("upload_detail", args=[ids[0]]))
    assert _create(member_client, MB).status_code == 201


def test_the_form_upload_refuses_a_file_over_the_quota_by_name(
    team, member, member_client, settings, media_root
):
    settings.TEAM_STORAGE_QUOTA_BYTES = 1000
    f = SimpleUploadedFile("big-talk.mp4", b"x" * 2000, content_type="video/mp4")
    r = member_client.post(
        reverse("presenter_upload"), {"files": [f]}, HTTP_ACCEPT="application/json"
    )
    errors = r.json()["errors"]
    assert r.status_code == 400 and len(errors) == 1
    assert errors[0].startswith("big-talk.mp4: ") and "storage quota" in errors[0]
    assert not Presenter.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.UPLOAD_REJECTED).exists()


@pytest.fixture
def small_disk(tmp_path, settings):
    """MEDIA_ROOT on a real 64 MiB tmpfs."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    root = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(root)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    settings.MEDIA_ROOT = root
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def test_declared_bytes_are_held_against_the_free_disk(team, member, settings, small_disk):
    settings.MIN_FREE_DISK_BYTES = 8 * MB
    free = free_disk_bytes()
    assert 60 * MB < free <= 64 * MB
    first = uploads.create_upload(member, team, "presenter", "one.mp4", 30 * MB)
    with pytest.raises(quotas.QuotaExceeded) as refused:
        uploads.create_upload(member, team, "presenter", "two.mp4", 30 * MB)
    assert refused.value.code == "upload_disk" and refused.value.status == 507
    assert "30.0 MB of them are promised to uploads in progress" in refused.value.text()
    assert "8.0 MB must stay free" in refused.value.text()
    # Bytes written count as used disk, the rest of the declaration as promised: no change.
    with open(first.part_path, "r+b") as fh:
        fh.write(b"\0" * (10 * MB))
    Upload.objects.filter(pk=first.pk).update(offset=10 * MB)
    with pytest.raises(quotas.QuotaExceeded):
        uploads.create_upload(member, team, "presenter", "two.mp4", 30 * MB)
    uploads.abort(first)
    assert uploads.create_upload(member, team, "presenter", "two.mp4", 30 * MB)
