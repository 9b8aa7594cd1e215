"""Projects of a team: creating and changing them (audited)."""

from __future__ import annotations

from typing import Any

from ..actor import Actor
from ..audit import record
from ..models import AuditAction, Project, Team


def create_project(actor: Actor, team: Team, name: str, description: str = "") -> Project:
    project = Project.objects.create(
        team=team, name=name, description=description, created_by=actor.user
    )
    record(actor, team, AuditAction.PROJECT_CREATED, project)
    return project


def update_project(actor: Actor, project: Project, **fields: Any) -> Project:
    """Change ``fields`` (name, description) of ``project``."""
    for key, value in fields.items():
        setattr(project, key, value)
    project.save(update_fields=[*fields, "updated_at"])
    record(actor, project.team, AuditAction.PROJECT_UPDATED, project, fields=sorted(fields))
    return project
