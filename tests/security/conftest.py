"""Fixtures of the security sweep: one row of every kind in ``team`` (with files on disk),
marked with strings that must never reach anyone outside the team."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

#: Every name and every stored byte of ``team``'s rows carries this; a response that contains
#: it leaked data.
MARK = "SECRETX9"


def body_of(response) -> bytes:
    """The whole body, streamed or not (consuming it also runs the file-reading code)."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


@pytest.fixture
def world(team, owner, member, viewer, media_root):
    """A project, tag, presenter, audio track, batch with a task, media asset, invitation,
    upload session and memberships of ``team``; every file exists under MEDIA_ROOT."""
    from rendering.models import Batch, MediaAsset, RenderTask, TaskStatus
    from studio.models import AudioTrack, Invitation, MediaStatus, Presenter, Project, Tag, Upload

    def put(rel: str) -> str:
        path = Path(media_root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{MARK} bytes of {rel}".encode())
        return rel

    t = team.pk
    project = Project.objects.create(team=team, name=f"{MARK} project", created_by=owner)
    tag = Tag.objects.create(team=team, name=f"{MARK.lower()}-tag")
    presenter = Presenter.objects.create(
        team=team,
        name=f"{MARK} presenter",
        file=put(f"presenters/{t}/p.mp4"),
        thumbnail=put(f"thumbs/{t}/p.jpg"),
        original_filename=f"{MARK}.mp4",
        status=MediaStatus.READY,
        created_by=member,
    )
    presenter.tags.add(tag)
    track = AudioTrack.objects.create(
        project=project,
        name=f"{MARK} audio",
        file=put(f"audio/{t}/a.wav"),
        waveform=put(f"waveforms/{t}/a.png"),
        subtitles=put(f"subtitles/{t}/a.srt"),
        subtitles_filename=f"{MARK}.srt",
        original_filename=f"{MARK}.wav",
        status=MediaStatus.READY,
        duration_s=1.0,
        created_by=member,
    )
    batch = Batch.objects.create(
        team=team, project=project, name=f"{MARK} batch", engine="warp", created_by=member
    )
    failed = RenderTask.objects.create(
        batch=batch,
        presenter=presenter,
        audio=track,
        presenter_name=presenter.name,
        audio_name=track.name,
        status=TaskStatus.FAILED,
        error=f"{MARK} error",
    )
    done = RenderTask.objects.create(
        batch=batch,
        presenter=presenter,
        audio=track,
        position=1,
        presenter_name=presenter.name,
        audio_name=track.name,
        status=TaskStatus.SUCCEEDED,
        percent=100,
    )
    asset = MediaAsset.objects.create(
        team=team,
        project=project,
        batch=batch,
        task=done,
        presenter=presenter,
        audio=track,
        title=f"{MARK} video",
        download_name=f"{MARK}__video.mp4",
        file=put(f"outputs/{t}/{batch.pk}/{done.pk}.mp4"),
        thumbnail=put(f"outputs/{t}/{batch.pk}/{done.pk}.jpg"),
        size_bytes=30,
        created_by=member,
    )
    RenderTask.objects.filter(pk=done.pk).update(output=asset)
    batch.refresh_status()
    invitation = Invitation.objects.create(
        team=team, email=f"{MARK.lower()}@example.test", invited_by=owner
    )
    from api import tokens
    from api.models import Webhook, WebhookDelivery
    from studio.actor import Actor

    token, _raw = tokens.create_token(Actor.of(member), team, f"{MARK} token", ["read"], 30)
    webhook = Webhook.objects.create(
        team=team, url=f"https://{MARK.lower()}.example.test/hook", events=["batch.completed"]
    )
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, event="batch.completed", body=f'{{"mark": "{MARK}"}}'
    )
    from studio.models import Notification
    from studio.notices import notice

    notification = Notification.objects.create(
        user=member,
        team=team,
        kind="batch_finished",
        title=notice("batch_ready", f"{MARK} batch is ready"),
        body=notice("batch_ready", f"{MARK} all done"),
        url=batch.get_absolute_url(),
    )
    upload = Upload.objects.create(
        team=team,
        project=project,
        user=member,
        kind=Upload.Kind.AUDIO,
        filename=f"{MARK}.wav",
        size=100,
    )
    return SimpleNamespace(
        team=team,
        project=project,
        tag=tag,
        presenter=presenter,
        audio=track,
        batch=batch,
        task=failed,
        asset=asset,
        invitation=invitation,
        upload=upload,
        notification=notification,
        token=token,
        webhook=webhook,
        delivery=delivery,
        membership=team.memberships.get(user=member),
        files=[
            presenter.file.name,
            presenter.thumbnail.name,
            track.file.name,
            track.waveform.name,
            track.subtitles.name,
            asset.file.name,
            asset.thumbnail.name,
        ],
    )


def missing_pk(kind: str):
    """An id no row has (uploads use UUIDs)."""
    return uuid.uuid4() if kind == "upload" else 987654321


def fingerprint(team, media_root, with_audit: bool = True) -> dict:
    """Everything of ``team`` a write could change: its rows, member accounts, files on disk.
    (An API token's last use is not a change of the team's data.)"""
    from django.contrib.auth import get_user_model

    from api.models import ApiToken, IdempotencyKey, Webhook, WebhookDelivery
    from rendering.models import Batch, MediaAsset, RenderTask
    from studio.models import (
        AudioTrack,
        AuditEvent,
        Invitation,
        Membership,
        Notification,
        Presenter,
        Project,
        Tag,
        Team,
        Upload,
    )

    models = [
        Team,
        Membership,
        Invitation,
        Project,
        Tag,
        Presenter,
        AudioTrack,
        Upload,
        Batch,
        RenderTask,
        MediaAsset,
        Notification,
        ApiToken,
        IdempotencyKey,
        Webhook,
        WebhookDelivery,
    ] + ([AuditEvent] if with_audit else [])
    state = {m.__name__: list(m.objects.for_team(team).order_by("pk").values()) for m in models}
    for row in state["ApiToken"]:
        row.pop("last_used_at")
        row.pop("last_used_ip")
    state["presenter_tags"] = list(
        Presenter.tags.through.objects.filter(presenter__team=team).order_by("pk").values()
    )
    state["users"] = list(
        get_user_model()
        .objects.filter(memberships__team=team)
        .order_by("pk")
        .values("pk", "username", "email", "password", "is_active", "is_staff")
    )
    state["files"] = sorted(
        (str(p.relative_to(media_root)), p.stat().st_size)
        for p in Path(media_root).rglob("*")
        if p.is_file()
    )
    return state
