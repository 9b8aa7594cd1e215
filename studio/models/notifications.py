"""Messages for one person: a batch they submitted finished, ... Shown as the header's
unread count and on the notifications page, pushed to their open pages (and from there to the
desktop when they allowed it), e-mailed when the server sends e-mail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import TeamScopedModel
from .fields import NoticeField
from .teams import Team


class NotificationLevel(models.TextChoices):
    INFO = "info", _("Information")
    SUCCESS = "success", _("Success")
    WARNING = "warning", _("Warning")
    ERROR = "error", _("Error")


class Notification(TeamScopedModel):
    """One message for ``user``; its texts are :class:`~studio.notices.Notice`s, so each is
    read (page, desktop, e-mail) in the reader's language."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("user"),
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("team")
    )
    #: What it is about, a stable key (``batch_finished``).
    kind = models.CharField(max_length=40)
    title = NoticeField(_("title"))
    body = NoticeField(_("text"))
    level = models.CharField(
        max_length=10, choices=NotificationLevel.choices, default=NotificationLevel.INFO
    )
    #: Where it leads (a path of this site, e.g. the batch's page).
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread_idx")]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.title.message if self.title else self.kind

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @property
    def title_text(self) -> str:
        return self.title.text() if self.title else ""

    @property
    def body_text(self) -> str:
        return self.body.text() if self.body else ""
