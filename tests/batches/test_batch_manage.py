"""Batches on their project's page; renaming and deleting a batch (audited, through the
service), with its videos kept or deleted as the person chose."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from rendering.models import Batch, MediaAsset, RenderTask, TaskStatus
from studio.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def _batch(library, media_root, name="Week 1", statuses=("succeeded", "succeeded")):
    """A batch of ``library``'s project whose renders have ``statuses``; each succeeded one
    has a video file on disk."""
    project = library.project
    batch = Batch.objects.create(team=project.team, project=project, name=name, engine="warp")
    for i, status in enumerate(statuses):
        task = RenderTask.objects.create(
            batch=batch,
            position=i,
            presenter=library.anna,
            audio=library.hello,
            presenter_name="安娜 Anna",
            audio_name="问候 Hello",
            status=status,
        )
        if status == TaskStatus.SUCCEEDED:
            rel = f"outputs/{project.team_id}/{batch.pk}/{task.pk}.mp4"
            (Path(media_root) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(media_root) / rel).write_bytes(b"video")
            asset = MediaAsset.objects.create(
                team=project.team,
                project=project,
                batch=batch,
                task=task,
                title=f"video {i}",
                download_name=f"video {i}.mp4",
                file=rel,
                size_bytes=5,
            )
            RenderTask.objects.filter(pk=task.pk).update(output=asset)
    batch.refresh_status()
    return batch


def test_the_project_page_lists_its_batches(member_client, library, media_root):
    done = _batch(library, media_root, "Week 1")
    cancelled = _batch(library, media_root, "Week 2", ("succeeded", "cancelled"))
    Batch.objects.create(
        team=done.team, project=done.project, name="peek", engine="warp", is_preview=True
    )
    html = member_client.get(reverse("project_detail", args=[library.project.pk])).content
    html = html.decode()
    assert 'data-testid="project-batches"' in html
    assert html.count('data-testid="project-batch-row"') == 2, "previews are left out"
    assert html.index("Week 2") < html.index("Week 1"), "newest first"
    assert f'href="/batches/{done.pk}/"' in html and f'href="/batches/{cancelled.pk}/"' in html
    assert "Partly cancelled" in html and "1 cancelled" in html


def test_rename_is_audited_and_needs_a_name(member_client, viewer_client, library, media_root):
    batch = _batch(library, media_root)
    url = reverse("batch_edit", args=[batch.pk])
    assert viewer_client.post(url, {"name": "Nope"}).status_code == 403
    empty = member_client.post(url, {"name": "   "})
    assert empty.status_code == 400 and "A batch needs a name." in empty.content.decode()
    assert member_client.post(url, {"name": "  Week  one  "}).status_code == 302
    batch.refresh_from_db()
    assert batch.name == "Week one"
    event = AuditEvent.objects.get(action=AuditAction.UPDATED, target_type="batch")
    assert event.data == {"kind": "batch", "old": "Week 1", "name": "Week one"}


def test_delete_is_refused_while_renders_are_active(member_client, library, media_root):
    batch = _batch(library, media_root, statuses=("succeeded", "running"))
    page = member_client.get(reverse("batch_delete", args=[batch.pk])).content.decode()
    assert 'data-testid="batch-delete-active"' in page and "Cancel the batch first" in page
    refused = member_client.post(reverse("batch_delete", args=[batch.pk]), follow=True)
    assert "still has renders queued or running" in refused.content.decode()
    assert Batch.objects.filter(pk=batch.pk).exists()


def test_delete_keeps_the_videos_by_default(member_client, library, media_root):
    batch = _batch(library, media_root)
    page = member_client.get(reverse("batch_delete", args=[batch.pk])).content.decode()
    assert "Its 2 renders" in page and "Its 2 finished videos stay in the media library" in page
    files = [a.path for a in MediaAsset.objects.filter(batch=batch)]
    response = member_client.post(reverse("batch_delete", args=[batch.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("project_detail", args=[batch.project_id])
    assert "its 2 finished videos stay in the media library" in response.content.decode()
    assert not Batch.objects.filter(pk=batch.pk).exists()
    assert not RenderTask.objects.filter(batch_id=batch.pk).exists()
    kept = MediaAsset.objects.all()
    assert kept.count() == 2 and all(a.batch_id is None for a in kept)
    assert all(Path(f).is_file() for f in files)
    event = AuditEvent.objects.get(action=AuditAction.DELETED, target_type="batch")
    assert event.data == {"kind": "batch", "renders": 2, "videos_deleted": 0, "videos_kept": 2}


def test_delete_with_its_videos(
    member_client, library, media_root, django_capture_on_commit_callbacks
):
    batch = _batch(library, media_root)
    files = [a.path for a in MediaAsset.objects.filter(batch=batch)]
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            reverse("batch_delete", args=[batch.pk]), {"delete_videos": "1"}
        )
    assert response.status_code == 302
    assert not MediaAsset.objects.exists()
    assert not any(Path(f).exists() for f in files)
    event = AuditEvent.objects.get(action=AuditAction.DELETED, target_type="batch")
    assert event.data["videos_deleted"] == 2 and event.data["videos_kept"] == 0


def test_outsiders_and_viewers_cannot_delete(outsider_client, viewer_client, library, media_root):
    batch = _batch(library, media_root)
    assert outsider_client.post(reverse("batch_delete", args=[batch.pk])).status_code == 404
    assert viewer_client.post(reverse("batch_delete", args=[batch.pk])).status_code == 403
    assert Batch.objects.filter(pk=batch.pk).exists()
