"""Accounts and teams: login, password change, invitations, roles, members, switching."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from studio.models import AuditAction, AuditEvent, Invitation, Membership, Role, Team
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_logout_and_audit(client, owner):
    r = client.post(reverse("login"), {"username": owner.username, "password": PASSWORD})
    assert r.status_code == 302
    assert client.get(reverse("presenter_list")).status_code == 200
    assert AuditEvent.objects.filter(actor=owner, action=AuditAction.LOGIN).exists()
    client.post(reverse("logout"))
    assert client.get(reverse("presenter_list")).status_code == 302
    bad = client.post(reverse("login"), {"username": owner.username, "password": "wrong"})
    assert bad.status_code == 200 and b"did not match" in bad.content
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGIN_FAILED, actor_label=owner.username
    ).exists()


def test_password_change(owner_client, owner):
    r = owner_client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-Secret-991",
            "new_password2": "a-new-Secret-991",
        },
    )
    assert r.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("a-new-Secret-991")
    assert AuditEvent.objects.filter(actor=owner, action=AuditAction.PASSWORD_CHANGED).exists()


def _invite(client, role="member", email=""):
    r = client.post(reverse("team_invite"), {"role": role, "email": email})
    assert r.status_code == 302
    return Invitation.objects.order_by("-created_at").first()


def test_admin_invites_and_link_joins(admin_client_, team, make_user, client):
    invitation = _invite(admin_client_, "member", "new@example.test")
    assert invitation.team == team and invitation.is_usable
    assert AuditEvent.objects.filter(action=AuditAction.INVITATION_SENT, team=team).exists()
    newbie = make_user("newbie")
    client.force_login(newbie)
    url = reverse("invitation_accept", args=[invitation.token])
    assert client.get(url).status_code == 200
    r = client.post(url)
    assert r.status_code == 302
    assert Membership.objects.get(team=team, user=newbie).role == Role.MEMBER
    assert AuditEvent.objects.filter(action=AuditAction.INVITATION_ACCEPTED, actor=newbie).exists()
    # used once: refused the second time, for anyone
    other = make_user("other")
    client.force_login(other)
    assert client.post(url).status_code == 410
    assert not Membership.objects.filter(team=team, user=other).exists()


def test_expired_invitation_is_refused(admin_client_, team, make_user, client):
    invitation = _invite(admin_client_, "member")
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    late = make_user("late")
    client.force_login(late)
    url = reverse("invitation_accept", args=[invitation.token])
    page = client.get(url)
    assert page.status_code == 410 and b"invitation-invalid" in page.content
    assert client.post(url).status_code == 410
    assert not Membership.objects.filter(team=team, user=late).exists()


def test_revoked_and_unknown_invitations_are_refused(admin_client_, team, make_user, client):
    invitation = _invite(admin_client_, "viewer")
    admin_client_.post(reverse("invitation_revoke", args=[invitation.pk]))
    client.force_login(make_user("x"))
    assert client.post(reverse("invitation_accept", args=[invitation.token])).status_code == 410
    assert client.get(reverse("invitation_accept", args=["nonsense"])).status_code == 410


def test_anonymous_must_log_in_to_accept(admin_client_, client):
    invitation = _invite(admin_client_)
    r = client.post(reverse("invitation_accept", args=[invitation.token]))
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is None


def test_only_owners_grant_admin(admin_client_, owner_client, team):
    admin_client_.post(reverse("team_invite"), {"role": "admin"})
    assert not Invitation.objects.filter(role="admin").exists()
    owner_client.post(reverse("team_invite"), {"role": "admin"})
    assert Invitation.objects.filter(role="admin").exists()


def test_members_and_viewers_cannot_invite(member_client, viewer_client):
    assert member_client.post(reverse("team_invite"), {"role": "viewer"}).status_code == 403
    assert viewer_client.post(reverse("team_invite"), {"role": "viewer"}).status_code == 403
    assert not Invitation.objects.exists()


def test_role_changes(owner_client, admin_client_, member_client, team, member, viewer, owner):
    m_viewer = Membership.objects.get(team=team, user=viewer)
    admin_client_.post(reverse("member_role", args=[m_viewer.pk]), {"role": "member"})
    m_viewer.refresh_from_db()
    assert m_viewer.role == Role.MEMBER
    assert AuditEvent.objects.filter(action=AuditAction.ROLE_CHANGED, data__new="member").exists()
    # admin cannot make someone owner, member cannot change roles at all
    admin_client_.post(reverse("member_role", args=[m_viewer.pk]), {"role": "owner"})
    m_viewer.refresh_from_db()
    assert m_viewer.role == Role.MEMBER
    assert (
        member_client.post(
            reverse("member_role", args=[m_viewer.pk]), {"role": "viewer"}
        ).status_code
        == 403
    )
    # the last owner cannot step down
    m_owner = Membership.objects.get(team=team, user=owner)
    owner_client.post(reverse("member_role", args=[m_owner.pk]), {"role": "member"})
    m_owner.refresh_from_db()
    assert m_owner.role == Role.OWNER


def test_remove_member_and_leave(admin_client_, member_client, team, member, viewer, owner):
    m_viewer = Membership.objects.get(team=team, user=viewer)
    admin_client_.post(reverse("member_remove", args=[m_viewer.pk]))
    assert not Membership.objects.filter(pk=m_viewer.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.MEMBER_REMOVED).exists()
    m_owner = Membership.objects.get(team=team, user=owner)
    assert admin_client_.post(reverse("member_remove", args=[m_owner.pk])).status_code == 403
    m_member = Membership.objects.get(team=team, user=member)
    member_client.post(reverse("member_remove", args=[m_member.pk]))
    assert not Membership.objects.filter(pk=m_member.pk).exists()


def test_membership_of_other_team_is_404(owner_client, other_team):
    foreign = other_team.memberships.get()
    assert (
        owner_client.post(reverse("member_role", args=[foreign.pk]), {"role": "viewer"}).status_code
        == 404
    )
    assert owner_client.post(reverse("member_remove", args=[foreign.pk])).status_code == 404


def test_admin_creates_an_account(admin_client_, team, client):
    r = admin_client_.post(
        reverse("team_add_member"),
        {
            "username": "carla",
            "email": "c@example.test",
            "password": "Vivid-Lantern-83",
            "role": "viewer",
        },
    )
    assert r.status_code == 302
    m = Membership.objects.get(user__username="carla")
    assert m.team == team and m.role == Role.VIEWER
    assert client.login(username="carla", password="Vivid-Lantern-83")
    weak = admin_client_.post(
        reverse("team_add_member"),
        {"username": "dan", "email": "dan@example.test", "password": "123", "role": "viewer"},
    )
    assert weak.status_code == 400 and not Membership.objects.filter(user__username="dan").exists()
    # The refused form comes back filled in (never the password), its errors at the fields.
    html = weak.content.decode()
    assert 'value="dan"' in html and 'value="dan@example.test"' in html
    assert 'value="123"' not in html
    assert '<option value="viewer" selected>' in html
    assert 'data-testid="add-member-error-password"' in html and "too short" in html


def test_password_rules_are_translated(admin_client_, team):
    """Django 5.2 changed the minimum-length msgid ("%d characters"), which its own Chinese
    catalogue does not have yet: the studio's catalogue carries it."""
    page = admin_client_.post(
        reverse("team_add_member"),
        {"username": "dan", "password": "1234", "role": "member"},
        HTTP_ACCEPT_LANGUAGE="zh-CN",
    )
    html = page.content.decode()
    assert page.status_code == 400
    assert "密码长度太短。密码必须包含至少 8 个字符。" in html
    assert "这个密码太常见了。" in html and "密码只包含数字。" in html
    assert "too short" not in html and "too common" not in html


def test_several_teams_and_switching(owner_client, owner, other_team):
    Membership.objects.create(team=other_team, user=owner, role=Role.VIEWER)
    page = owner_client.get(reverse("presenter_list"))
    assert page.context["current_team"].name == "Elsewhere"  # alphabetical first
    assert {t.name for t in page.context["user_teams"]} == {"Training", "Elsewhere"}
    training = Team.objects.get(name="Training")
    owner_client.post(reverse("switch_team"), {"team": training.pk})
    assert owner_client.get(reverse("presenter_list")).context["current_team"] == training
    assert owner_client.post(reverse("switch_team"), {"team": 999999}).status_code == 404
    r = owner_client.post(
        reverse("switch_team"), {"team": training.pk, "next": "https://evil.example/"}
    )
    assert r["Location"] == reverse("dashboard")


def test_switch_to_foreign_team_is_404(outsider_client, team):
    assert outsider_client.post(reverse("switch_team"), {"team": team.pk}).status_code == 404


def test_user_without_team_creates_one(client, make_user):
    lonely = make_user("lonely")
    client.force_login(lonely)
    r = client.get(reverse("presenter_list"))
    assert r.status_code == 302 and r["Location"] == reverse("team_create")
    client.post(reverse("team_create"), {"name": "Solo"})
    assert Membership.objects.get(user=lonely).role == Role.OWNER
    assert client.get(reverse("presenter_list")).status_code == 200


def test_audit_events_are_append_only(owner):
    from studio.actor import Actor
    from studio.audit import record

    event = record(Actor.of(owner), None, AuditAction.LOGIN)
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_admin_is_read_only(client, django_user_model, owner):
    from django.contrib.admin.sites import site

    admin_cls = site._registry[AuditEvent]
    boss = django_user_model.objects.create_superuser("boss", "b@example.test", PASSWORD)
    client.force_login(boss)
    request = client.get("/").wsgi_request
    assert not admin_cls.has_change_permission(request)
    assert not admin_cls.has_delete_permission(request)
    assert client.get(reverse("admin:studio_auditevent_changelist")).status_code == 200
