"""Models of the library side (teams, projects, presenters, audio, uploads, audit)."""

from .audit import AuditAction, AuditEvent
from .base import (
    ROLE_RANK,
    HasError,
    Role,
    TeamScopedManager,
    TeamScopedModel,
    TeamScopedQuerySet,
    roles_at_least,
)
from .fields import NoticeField, NoticeListField
from .library import AudioTrack, MediaStatus, Presenter, Tag, Upload
from .notifications import Notification, NotificationLevel
from .people import Profile
from .projects import Project
from .teams import Invitation, Membership, Team

__all__ = [
    "ROLE_RANK",
    "AudioTrack",
    "AuditAction",
    "AuditEvent",
    "HasError",
    "Invitation",
    "MediaStatus",
    "Membership",
    "NoticeField",
    "NoticeListField",
    "Notification",
    "NotificationLevel",
    "Presenter",
    "Profile",
    "Project",
    "Role",
    "Tag",
    "Team",
    "TeamScopedManager",
    "TeamScopedModel",
    "TeamScopedQuerySet",
    "Upload",
    "roles_at_least",
]
