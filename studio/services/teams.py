"""Team membership work: teams, invitations, roles, members."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rq import Retry

from .. import queues
from ..actor import Actor
from ..audit import record
from ..models import AuditAction, Invitation, Membership, Role, Team
from ..models.base import ROLE_RANK, role_at_least

log = logging.getLogger("studio.teams")


@transaction.atomic
def create_team(actor: Actor, user: Any, name: str) -> Team:
    """A new team owned by ``user``."""
    team = Team.objects.create(name=name, created_by=user)
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    record(actor, team, AuditAction.TEAM_CREATED, team)
    return team


def _check_can_grant(actor_role: str, role: str) -> None:
    """Admins manage members and viewers; only owners grant or take away admin/owner."""
    if role not in ROLE_RANK:
        raise ValidationError(_("Unknown role."))
    if not role_at_least(actor_role, Role.ADMIN):
        raise PermissionDenied(_("Only owners and admins manage members."))
    if ROLE_RANK[role] >= ROLE_RANK[Role.ADMIN] and actor_role != Role.OWNER:
        raise PermissionDenied(_("Only owners can grant the admin or owner role."))


def invite(actor: Actor, team: Team, actor_role: str, role: str, email: str = "") -> Invitation:
    _check_can_grant(actor_role, role)
    invitation = Invitation.objects.create(team=team, role=role, email=email, invited_by=actor.user)
    record(actor, team, AuditAction.INVITATION_SENT, invitation, role=role, email=email)
    return invitation


def email_invitation(invitation: Invitation, link: str, language: str) -> bool:
    """Queue the e-mail of an invitation made for an address (after the commit), in
    ``language`` (the inviter's: the person invited may have no account yet). False when the
    server sends no e-mail or the invitation names no address."""
    if not settings.EMAIL_ENABLED or not invitation.email:
        return False
    queues.enqueue(
        queues.QueueName.CPU,
        "studio.jobs.email_invitation",
        invitation.pk,
        link,
        language,
        timeout_s=120,
        retry=Retry(max=3, interval=[30, 300, 1800]),
        description=f"e-mail of invitation {invitation.pk}",
        on_unavailable=lambda exc: log.warning(
            "invitation %s not e-mailed: %s", invitation.pk, exc
        ),
    )
    return True


def revoke_invitation(actor: Actor, invitation: Invitation) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    record(actor, invitation.team, AuditAction.INVITATION_REVOKED, invitation)


class InvitationUnusable(Exception):
    pass


@transaction.atomic
def accept_invitation(actor: Actor, token: str) -> Membership:
    """Join the invitation's team. Refuses expired, used or revoked invitations.

    A user who is already a member keeps the higher of the two roles.
    """
    invitation = Invitation.objects.select_for_update().filter(token=token).first()
    if invitation is None or not invitation.is_usable:
        raise InvitationUnusable(_("This invitation has expired or was already used."))
    user = actor.user
    membership, created = Membership.objects.get_or_create(
        team=invitation.team, user=user, defaults={"role": invitation.role}
    )
    if not created and ROLE_RANK[invitation.role] > ROLE_RANK[membership.role]:
        membership.role = invitation.role
        membership.save(update_fields=["role", "updated_at"])
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    record(
        actor, invitation.team, AuditAction.INVITATION_ACCEPTED, invitation, role=membership.role
    )
    return membership


@transaction.atomic
def create_member_account(
    actor: Actor,
    team: Team,
    actor_role: str,
    username: str,
    email: str,
    password: str,
    role: str,
) -> Membership:
    _check_can_grant(actor_role, role)
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(_("That user name is taken."))
    user = User.objects.create_user(username=username, email=email, password=password)
    membership = Membership.objects.create(team=team, user=user, role=role)
    record(actor, team, AuditAction.MEMBER_ADDED, membership, role=role, username=username)
    return membership


def _owner_count(team: Team) -> int:
    return team.memberships.filter(role=Role.OWNER).count()


@transaction.atomic
def change_role(
    actor: Actor, team: Team, actor_role: str, membership: Membership, role: str
) -> Membership:
    _check_can_grant(actor_role, role)
    if membership.role in (Role.OWNER, Role.ADMIN) and actor_role != Role.OWNER:
        raise PermissionDenied(_("Only owners change the role of an owner or admin."))
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(team) <= 1:
        raise ValidationError(_("A team needs at least one owner."))
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    record(actor, team, AuditAction.ROLE_CHANGED, membership, old=old, new=role)
    return membership


@transaction.atomic
def remove_member(actor: Actor, team: Team, actor_role: str, membership: Membership) -> None:
    is_self = actor.user is not None and membership.user_id == actor.user.pk
    if not is_self:
        if not role_at_least(actor_role, Role.ADMIN):
            raise PermissionDenied(_("Only owners and admins remove members."))
        if membership.role in (Role.OWNER, Role.ADMIN) and actor_role != Role.OWNER:
            raise PermissionDenied(_("Only owners remove an owner or admin."))
    if membership.role == Role.OWNER and _owner_count(team) <= 1:
        raise ValidationError(_("A team needs at least one owner."))
    record(
        actor,
        team,
        AuditAction.MEMBER_REMOVED,
        membership,
        username=membership.user.get_username(),
        role=membership.role,
    )
    membership.delete()


def password_changed(actor: Actor) -> None:
    record(actor, None, AuditAction.PASSWORD_CHANGED)
