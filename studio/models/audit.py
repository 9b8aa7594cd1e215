"""The append-only audit log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import TeamScopedModel
from .teams import Team


class AuditAction(models.TextChoices):
    LOGIN = "login", _("Logged in")
    LOGIN_FAILED = "login_failed", _("Login failed")
    LOGIN_LOCKED_OUT = "login_locked_out", _("Logins refused after repeated failures")
    LOGOUT = "logout", _("Logged out")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    TEAM_CREATED = "team_created", _("Team created")
    MEMBER_ADDED = "member_added", _("Member added")
    MEMBER_REMOVED = "member_removed", _("Member removed")
    ROLE_CHANGED = "role_changed", _("Role changed")
    INVITATION_SENT = "invitation_sent", _("Invitation sent")
    INVITATION_ACCEPTED = "invitation_accepted", _("Invitation accepted")
    INVITATION_REVOKED = "invitation_revoked", _("Invitation revoked")
    PROJECT_CREATED = "project_created", _("Project created")
    PROJECT_UPDATED = "project_updated", _("Project updated")
    UPLOADED = "uploaded", _("Uploaded")
    UPLOAD_REJECTED = "upload_rejected", _("Upload rejected")
    UPDATED = "updated", _("Updated")
    ARCHIVED = "archived", _("Archived")
    DELETED = "deleted", _("Deleted")
    BATCH_CREATED = "batch_created", _("Batch created")
    BATCH_CANCELLED = "batch_cancelled", _("Batch cancelled")
    TASK_CANCELLED = "task_cancelled", _("Render cancelled")
    BATCH_RETRIED = "batch_retried", _("Renders retried")
    ZIPPED = "zipped", _("Downloaded as zip")
    DOWNLOADED = "downloaded", _("Downloaded")


class AuditEvent(TeamScopedModel):
    """Who did what, to what, when. Rows are never changed or deleted by the application."""

    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
        verbose_name=_("team"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("user"),
    )
    actor_label = models.CharField(_("who"), max_length=255, blank=True)
    action = models.CharField(
        _("action"), max_length=40, choices=AuditAction.choices, db_index=True
    )
    target_type = models.CharField(_("kind of target"), max_length=60, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=255, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    @property
    def target_type_label(self) -> str:
        """What kind of row the target is, in the reader's language (its model's name)."""
        return target_type_label(self.target_type)

    def __str__(self) -> str:
        when = f"{self.created_at:%Y-%m-%d %H:%M:%S}"
        return f"{when} {self.actor_label} {self.action} {self.target_label}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")


def target_type_label(model_name: str) -> str:
    """The translated name of the model an audit row's ``target_type`` names (the raw value
    when no installed model has that name any more)."""
    if not model_name:
        return ""
    from django.apps import apps

    for model in apps.get_models():
        if model._meta.model_name == model_name:
            return str(model._meta.verbose_name)
    return model_name
