"""All models of the studio app, re-exported by subject module."""
from .base import ROLE_RANK, Role, TeamScopedManager, TeamScopedModel, TeamScopedQuerySet, roles_at_least
from .teams import Invitation, Membership, Team
from .projects import Project
from .library import AudioTrack, MediaStatus, Presenter, Tag, Upload
from .audit import AuditAction, AuditEvent
from .batches import (Batch, BatchStatus, Quality, QUALITY_CRF, RenderTask, TaskStatus,
                      derive_batch_status)
from .assets import MediaAsset, team_disk_usage

__all__ = [
    "ROLE_RANK", "Role", "TeamScopedManager", "TeamScopedModel", "TeamScopedQuerySet",
    "roles_at_least", "Invitation", "Membership", "Team", "Project", "AudioTrack", "MediaStatus",
    "Presenter", "Tag", "Upload", "AuditAction", "AuditEvent",
    "Batch", "BatchStatus", "Quality", "QUALITY_CRF", "RenderTask", "TaskStatus",
    "derive_batch_status", "MediaAsset", "team_disk_usage",
]
