"""Notifications: a batch that finishes tells its owner (stored, translated for each reader,
e-mailed when the server sends e-mail, pushed over the person's own websocket), the list and
marking read; invitations e-mailed. The browser side is tests/browser/test_notifications.py."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation

from rendering import events
from rendering.models import Batch, RenderTask
from studio.models import Membership, Notification, Project
from studio.services import people

pytestmark = pytest.mark.django_db


def _finished(team, owner, statuses, name="Week 49", preview=False) -> Batch:
    """A batch of ``owner`` whose renders ended with ``statuses``, announced as the lifecycle
    does (``batch_completed`` after the status was derived)."""
    project = Project.objects.create(team=team, name="P")
    batch = Batch.objects.create(
        team=team, project=project, name=name, engine="warp", created_by=owner, is_preview=preview
    )
    for i, status in enumerate(statuses):
        RenderTask.objects.create(
            batch=batch, position=i, presenter_name=f"p{i}", audio_name="a", status=status
        )
    batch.refresh_status()
    events.send(events.batch_completed, Batch, batch=batch)
    return batch


@pytest.mark.parametrize(
    ("statuses", "level", "title", "body"),
    [
        (["succeeded"] * 3, "success", "Batch “Week 49” is ready", "All 3 videos are finished"),
        (
            ["succeeded", "failed"],
            "warning",
            "Batch “Week 49” finished with failures",
            "1 of 2 videos are finished; 1 failed.",
        ),
        (["failed", "failed"], "error", "Batch “Week 49” failed", "None of its 2 videos"),
        (
            ["succeeded", "cancelled"],
            "info",
            "Batch “Week 49” finished",
            "1 of 2 videos are finished; 1 were cancelled.",
        ),
    ],
)
def test_a_finished_batch_notifies_its_owner(team, member, owner, statuses, level, title, body):
    batch = _finished(team, member, statuses)
    note = Notification.objects.get()
    assert (note.user, note.team, note.level) == (member, team, level)
    assert note.url == batch.get_absolute_url()
    with translation.override("en"):
        assert note.title_text == title and body in note.body_text
    with translation.override("zh-hans"):
        assert "Week 49" in note.title_text and "批次" in note.title_text


def test_no_notification_for_previews_cancelled_batches_or_former_members(team, member):
    _finished(team, member, ["succeeded"], preview=True)
    _finished(team, member, ["cancelled", "cancelled"])
    Membership.objects.filter(team=team, user=member).delete()
    _finished(team, member, ["succeeded"])
    assert not Notification.objects.exists()


def test_e_mail_in_the_owners_language_when_e_mail_is_configured(
    team, member, settings, rq_sync, django_capture_on_commit_callbacks
):
    settings.EMAIL_ENABLED = True
    settings.STUDIO_URL = "https://studio.example.test"
    people.set_language(member, "zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        batch = _finished(team, member, ["succeeded", "succeeded"], name="第49周")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [member.email]
    assert message.subject == "批次“第49周”已完成"
    assert f"https://studio.example.test{batch.get_absolute_url()}" in message.body
    assert "全部 2 个视频" in message.body
    assert Notification.objects.get().emailed_at is not None


def test_no_e_mail_without_settings(team, member, rq_sync, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _finished(team, member, ["succeeded"])
    assert Notification.objects.count() == 1 and mail.outbox == []


def test_list_is_personal_and_marks_read(team, member, viewer, member_client, viewer_client):
    batch = _finished(team, member, ["succeeded"])
    _finished(team, member, ["failed"], name="Other")
    page = member_client.get(reverse("notification_list")).content.decode()
    assert page.count('data-testid="notification"') == 2
    assert 'data-testid="notification-count">2<' in page, "the header's count"
    assert (
        viewer_client.get(reverse("notification_list"))
        .content.decode()
        .count('data-testid="notification"')
        == 0
    )
    mine = Notification.objects.get(url=batch.get_absolute_url())
    assert viewer_client.post(reverse("notification_read", args=[mine.pk])).status_code == 404
    member_client.post(reverse("notification_read", args=[mine.pk]))
    assert member_client.get(reverse("notifications_unread")).json() == {"unread": 1}
    member_client.post(reverse("notifications_read"))
    assert member_client.get(reverse("notifications_unread")).json() == {"unread": 0}


def test_opening_the_batch_reads_its_notification(team, member, member_client):
    batch = _finished(team, member, ["succeeded"])
    assert member_client.get(reverse("notifications_unread")).json() == {"unread": 1}
    member_client.get(batch.get_absolute_url())
    assert member_client.get(reverse("notifications_unread")).json() == {"unread": 0}


def test_invitation_is_e_mailed(
    admin_client_, team, settings, rq_sync, django_capture_on_commit_callbacks
):
    settings.EMAIL_ENABLED = True
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("team_invite"),
            {"email": "newcomer@example.test", "role": "member"},
            HTTP_ACCEPT_LANGUAGE="zh-CN",
            follow=True,
        )
    assert "邀请已通过邮件发送给 newcomer@example.test" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newcomer@example.test"] and "Training" in message.subject
    token = team.invitations.get().token
    assert f"/invite/{token}/" in message.body and "邀请" in message.body


def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.mark.django_db(transaction=True)
def test_the_websocket_pushes_only_ones_own_notifications(team, member, viewer, use_redis):
    from heygem_site.asgi import application

    cookies = {"member": _cookie(member), "viewer": _cookie(viewer)}

    async def run():
        def socket(who=None):
            cookie = f"sessionid={cookies[who]}" if who else ""
            return WebsocketCommunicator(
                application,
                "/ws/notifications/",
                headers=[(b"cookie", cookie.encode()), (b"origin", b"http://localhost")],
            )

        anonymous = socket()
        accepted, code = await anonymous.connect(timeout=20)
        assert not accepted and code == 4401
        mine, theirs = socket("member"), socket("viewer")
        assert (await mine.connect(timeout=20))[0] and (await theirs.connect(timeout=20))[0]
        assert await mine.receive_json_from(timeout=20) == {"type": "unread", "count": 0}
        assert await theirs.receive_json_from(timeout=20) == {"type": "unread", "count": 0}
        from channels.db import database_sync_to_async

        await database_sync_to_async(_finished)(team, member, ["succeeded"])
        message = await mine.receive_json_from(timeout=20)
        assert message["type"] == "notification" and message["unread"] == 1
        assert message["notification"]["title"] == "Batch “Week 49” is ready"
        assert await theirs.receive_nothing(timeout=1)
        await mine.disconnect()
        await theirs.disconnect()

    async_to_sync(run)()
