"""Team membership work: the current team, invitations, roles, members."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from ..audit import record
from ..models import AuditAction, Invitation, Membership, Role, Team
from ..models.base import ROLE_RANK, role_at_least

SESSION_KEY = "current_team_id"


def user_teams(user):
    return Team.objects.for_user(user).order_by("name")


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership of the team chosen in this session (first team if none was chosen)."""
    user = request.user
    if not user.is_authenticated:
        return None
    cached = getattr(request, "_current_membership", False)
    if cached is not False:
        return cached
    memberships = Membership.objects.filter(user=user).select_related("team")
    chosen = request.session.get(SESSION_KEY)
    membership = None
    if chosen is not None:
        membership = memberships.filter(team_id=chosen).first()
    if membership is None:
        membership = memberships.order_by("team__name").first()
        if membership is not None:
            request.session[SESSION_KEY] = membership.team_id
    request._current_membership = membership
    return membership


def current_team(request: HttpRequest) -> Team | None:
    membership = current_membership(request)
    return membership.team if membership else None


def switch_team(request: HttpRequest, team_id: int) -> Team:
    """Make ``team_id`` the session's team; 404-like failure (Team.DoesNotExist) if not a member."""
    team = Team.objects.for_user(request.user).get(pk=team_id)
    request.session[SESSION_KEY] = team.pk
    request._current_membership = False
    return team


@transaction.atomic
def create_team(request_or_user, user, name: str) -> Team:
    team = Team.objects.create(name=name, created_by=user)
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    record(request_or_user, team, AuditAction.TEAM_CREATED, team)
    return team


def _check_can_grant(actor_role: str, role: str) -> None:
    """Admins manage members and viewers; only owners grant or take away admin/owner."""
    if role not in ROLE_RANK:
        raise ValidationError(_("Unknown role."))
    if not role_at_least(actor_role, Role.ADMIN):
        raise PermissionDenied(_("Only owners and admins manage members."))
    if ROLE_RANK[role] >= ROLE_RANK[Role.ADMIN] and actor_role != Role.OWNER:
        raise PermissionDenied(_("Only owners can grant the admin or owner role."))


def invite(
    request: HttpRequest, team: Team, actor_role: str, role: str, email: str = ""
) -> Invitation:
    _check_can_grant(actor_role, role)
    invitation = Invitation.objects.create(
        team=team, role=role, email=email, invited_by=request.user
    )
    record(request, team, AuditAction.INVITATION_SENT, invitation, role=role, email=email)
    return invitation


def revoke_invitation(request: HttpRequest, invitation: Invitation) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    record(request, invitation.team, AuditAction.INVITATION_REVOKED, invitation)


class InvitationUnusable(Exception):
    pass


@transaction.atomic
def accept_invitation(request: HttpRequest, token: str) -> Membership:
    """Join the invitation's team. Refuses expired, used or revoked invitations.

    A user who is already a member keeps the higher of the two roles.
    """
    invitation = Invitation.objects.select_for_update().filter(token=token).first()
    if invitation is None or not invitation.is_usable:
        raise InvitationUnusable(_("This invitation has expired or was already used."))
    user = request.user
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
        request, invitation.team, AuditAction.INVITATION_ACCEPTED, invitation, role=membership.role
    )
    request.session[SESSION_KEY] = invitation.team_id
    return membership


@transaction.atomic
def create_member_account(
    request: HttpRequest,
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
    record(request, team, AuditAction.MEMBER_ADDED, membership, role=role, username=username)
    return membership


def _owner_count(team: Team) -> int:
    return team.memberships.filter(role=Role.OWNER).count()


@transaction.atomic
def change_role(
    request: HttpRequest, team: Team, actor_role: str, membership: Membership, role: str
) -> Membership:
    _check_can_grant(actor_role, role)
    if membership.role in (Role.OWNER, Role.ADMIN) and actor_role != Role.OWNER:
        raise PermissionDenied(_("Only owners change the role of an owner or admin."))
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(team) <= 1:
        raise ValidationError(_("A team needs at least one owner."))
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    record(request, team, AuditAction.ROLE_CHANGED, membership, old=old, new=role)
    return membership


@transaction.atomic
def remove_member(
    request: HttpRequest, team: Team, actor_role: str, membership: Membership
) -> None:
    is_self = membership.user_id == request.user.pk
    if not is_self:
        if not role_at_least(actor_role, Role.ADMIN):
            raise PermissionDenied(_("Only owners and admins remove members."))
        if membership.role in (Role.OWNER, Role.ADMIN) and actor_role != Role.OWNER:
            raise PermissionDenied(_("Only owners remove an owner or admin."))
    if membership.role == Role.OWNER and _owner_count(team) <= 1:
        raise ValidationError(_("A team needs at least one owner."))
    record(
        request,
        team,
        AuditAction.MEMBER_REMOVED,
        membership,
        username=membership.user.get_username(),
        role=membership.role,
    )
    membership.delete()
