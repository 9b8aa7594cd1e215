"""The one access path to team-owned rows.

Every team-owned model uses :class:`TeamScopedManager`; views fetch rows only through
``Model.objects.for_user(request.user, min_role=...)`` so a row of a team the user is not a
member of simply does not exist for them (404), and a role below ``min_role`` sees nothing to
write to.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import NoticeField


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")
    VIEWER = "viewer", _("Viewer")


#: Higher rank = more rights. owner > admin > member > viewer.
ROLE_RANK: dict[str, int] = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


def roles_at_least(min_role: str | None) -> list[str]:
    """The roles whose rank is at least ``min_role`` (all roles for ``None``)."""
    if min_role is None:
        return list(ROLE_RANK)
    if min_role not in ROLE_RANK:
        raise ValueError(f"unknown role {min_role!r}")
    floor = ROLE_RANK[min_role]
    return [role for role, rank in ROLE_RANK.items() if rank >= floor]


def role_at_least(role: str | None, min_role: str) -> bool:
    return role is not None and ROLE_RANK.get(role, -1) >= ROLE_RANK[min_role]


class TeamScopedQuerySet(models.QuerySet):
    """QuerySet of rows owned by a team reachable through ``team_path``."""

    def for_user(self, user, min_role: str | None = None) -> TeamScopedQuerySet:
        """Rows of the teams where ``user`` is a member with at least ``min_role``.

        Anonymous or inactive users see nothing. Both conditions go into one ``filter`` call
        so they apply to the same membership row.
        """
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        team_path: str = getattr(self.model, "team_path", "")
        prefix = f"{team_path}__" if team_path else ""
        return self.filter(
            **{
                f"{prefix}memberships__user": user,
                f"{prefix}memberships__role__in": roles_at_least(min_role),
            }
        )

    def for_team(self, team) -> TeamScopedQuerySet:
        team_path: str = getattr(self.model, "team_path", "")
        key = team_path or "pk"
        return self.filter(**{key: team.pk if hasattr(team, "pk") else team})


TeamScopedManager = models.Manager.from_queryset(TeamScopedQuerySet)


class TeamScopedModel(models.Model):
    """Abstract base: ``team_path`` names the lookup from the model to its Team ('' = itself)."""

    team_path: str = "team"

    objects = TeamScopedManager()

    class Meta:
        abstract = True

    @property
    def owning_team(self):
        obj = self
        if not self.team_path:
            return obj
        for part in self.team_path.split("__"):
            obj = getattr(obj, part)
        return obj


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class HasError(models.Model):
    """``error``: why the row failed, as a :class:`~studio.notices.Notice` (None when it did
    not), shown to each reader in their language through :attr:`error_text`."""

    error = NoticeField(_("error"))

    class Meta:
        abstract = True

    @property
    def error_text(self) -> str:
        """The error in the active language ("" without one)."""
        return self.error.text() if self.error else ""

    @property
    def error_message(self) -> str:
        """The error in English, for logs and searches ("" without one)."""
        return self.error.message if self.error else ""
