"""Admin of batches and tasks, and ``manage.py cleanup_media``."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from rendering.models import MediaAsset, RenderTask, TaskStatus
from rendering.services import batches as service
from studio.actor import Actor
from studio.models import AuditEvent


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.test", "pw-x-123")
    client.force_login(user)
    return client


@pytest.fixture
def batch(use_redis, library, member):
    return service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project, audios=[library.hello], presenters=[library.anna, library.bo]
        ),
    )


def test_admin_lists_tasks_with_worker_device_errors_and_rq_link(batch, staff_client):
    task = batch.tasks.first()
    RenderTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.FAILED,
        worker_name="gpu-box-1",
        device="cuda:0",
        error="anna.mp4: no usable face",
        traceback="Traceback (most recent call last): ...",
    )
    listing = staff_client.get(reverse("admin:rendering_rendertask_changelist"))
    page = listing.content.decode()
    assert listing.status_code == 200
    assert "gpu-box-1" in page and "cuda:0" in page and "no usable face" in page
    detail = staff_client.get(reverse("admin:rendering_rendertask_change", args=[task.pk]))
    body = detail.content.decode()
    assert "Traceback (most recent call last)" in body
    assert "/admin/rq/queues/" in body and task.rq_job_id[:12] in body
    assert (
        staff_client.get(reverse("admin:rendering_batch_change", args=[batch.pk])).status_code
        == 200
    )


def test_admin_cancel_and_retry_actions(batch, staff_client, django_capture_on_commit_callbacks):
    url = reverse("admin:rendering_batch_changelist")
    staff_client.post(url, {"action": "cancel_selected", "_selected_action": [batch.pk]})
    assert set(batch.tasks.values_list("status", flat=True)) == {"cancelled"}
    assert AuditEvent.objects.filter(action="batch_cancelled", data__via="admin").exists()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("admin:rendering_rendertask_changelist"),
            {
                "action": "retry_selected",
                "_selected_action": list(batch.tasks.values_list("pk", flat=True)),
            },
        )
    assert set(batch.tasks.values_list("status", flat=True)) == {"queued"}


def test_audit_log_is_read_only_in_admin(batch, staff_client, member):
    from studio.audit import record
    from studio.models import AuditAction

    event = record(Actor.of(member), batch.team, AuditAction.BATCH_CREATED, batch)
    page = staff_client.get(reverse("admin:studio_auditevent_changelist") + "?action=batch_created")
    assert page.status_code == 200 and "batch_created" in page.content.decode()
    change = staff_client.post(
        reverse("admin:studio_auditevent_change", args=[event.pk]), {"action": "deleted"}
    )
    assert change.status_code == 403
    event.refresh_from_db()
    assert event.action == "batch_created"


def _asset(batch, media_root, name: str, age: timedelta) -> MediaAsset:
    rel = f"outputs/{batch.team_id}/{batch.pk}/{name}"
    path = media_root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 1000)
    asset = MediaAsset.objects.create(
        team=batch.team, batch=batch, title=name, download_name=name, file=rel, size_bytes=1000
    )
    MediaAsset.objects.filter(pk=asset.pk).update(created_at=timezone.now() - age)
    return asset


def test_cleanup_media_deletes_old_outputs_and_strays(batch, media_root):
    old = _asset(batch, media_root, "old.mp4", timedelta(days=40))
    new = _asset(batch, media_root, "new.mp4", timedelta(days=2))
    stray = media_root / "outputs" / str(batch.team_id) / str(batch.pk) / "crashed.mp4"
    stray.write_bytes(b"y" * 10)
    ancient = time.time() - 40 * 86400
    os.utime(stray, (ancient, ancient))

    call_command("cleanup_media", "--older-than", "30d", "--dry-run")
    assert MediaAsset.objects.count() == 2 and stray.exists()

    call_command("cleanup_media", "--older-than", "30d")
    assert list(MediaAsset.objects.all()) == [new]
    assert not (media_root / old.file.name).exists() and (media_root / new.file.name).exists()
    assert not stray.exists()
    event = AuditEvent.objects.get(action="deleted")
    assert event.target_id == str(old.pk) and event.actor_label == "cleanup_media"

    with pytest.raises(CommandError):
        call_command("cleanup_media", "--older-than", "soon")
