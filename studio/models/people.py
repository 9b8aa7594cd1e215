"""What a person chose for themselves, kept with their account rather than per browser."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Profile(models.Model):
    """One per user, made when they first choose something (no row: every default)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="studio_profile",
        verbose_name=_("user"),
    )
    #: The language of the pages, e-mails and notifications ("" = the browser's).
    language = models.CharField(
        _("language"), max_length=12, blank=True, choices=settings.LANGUAGES
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return str(self.user)
