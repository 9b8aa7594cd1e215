"""The team's media library: every finished render is an asset."""

from __future__ import annotations

import os

from django.conf import settings
from django.db import models
from django.db.models import Sum
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from studio.models import AudioTrack, Presenter, Project, Team, TeamScopedModel
from studio.models.base import TimeStamped


def output_path_for(team_id: int, batch_id: int, name: str) -> str:
    """Storage name (relative to MEDIA_ROOT) of a render output."""
    return f"outputs/{team_id}/{batch_id}/{name}"


class ThumbnailStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class MediaAsset(TeamScopedModel, TimeStamped):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="assets")
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    batch = models.ForeignKey(
        "rendering.Batch", null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    task = models.ForeignKey(
        "rendering.RenderTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assets",
    )
    presenter = models.ForeignKey(
        Presenter, null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    audio = models.ForeignKey(
        AudioTrack, null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    title = models.CharField(_("title"), max_length=255)
    #: Name from the batch's template (:mod:`rendering.naming`), e.g. ``Presenter__Audio.mp4``
    #: or ``Presenter/Audio.mp4``: the path inside zips.
    download_name = models.CharField(max_length=255)
    file = models.FileField(max_length=255)
    thumbnail = models.FileField(blank=True, max_length=255)
    #: The thumbnail job (cpu queue) and its state: the reconciler sends a lost one again.
    #: A render's output starts pending (rendering/jobs.py); other rows have nothing to wait for.
    thumbnail_status = models.CharField(
        max_length=8, choices=ThumbnailStatus.choices, default=ThumbnailStatus.READY
    )
    thumbnail_job_id = models.CharField(max_length=64, blank=True)
    thumbnail_queued_at = models.DateTimeField(null=True, blank=True)
    thumbnail_attempts = models.PositiveSmallIntegerField(default=0)
    duration_s = models.FloatField(null=True, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    engine = models.CharField(max_length=40, blank=True)
    is_preview = models.BooleanField(default=False, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("media asset")
        verbose_name_plural = _("media assets")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("media_detail", args=[self.pk])

    @property
    def file_name(self) -> str:
        """The name a single download is offered under (folders of the template flattened)."""
        from ..naming import flat_name

        return flat_name(self.download_name)

    @property
    def path(self) -> str:
        return os.path.join(settings.MEDIA_ROOT, self.file.name or "")

    def delete_files(self) -> None:
        """Remove the video and thumbnail from disk (missing files are fine)."""
        for field in (self.file, self.thumbnail):
            if field and field.name:
                try:
                    os.remove(os.path.join(settings.MEDIA_ROOT, field.name))
                except FileNotFoundError:
                    continue


def results_made_with(obj: Presenter | AudioTrack) -> int:
    """Finished videos made with a presenter or audio track (kept when it is deleted: their
    link to it is cleared)."""
    if isinstance(obj, Presenter):
        return MediaAsset.objects.filter(presenter=obj).count()
    return MediaAsset.objects.filter(audio=obj).count()


def team_output_bytes(team) -> int:
    """Bytes of a team's render outputs (counted by the library's storage quota)."""
    return int(MediaAsset.objects.filter(team=team).aggregate(n=Sum("size_bytes"))["n"] or 0)


def team_disk_usage(team) -> dict[str, int]:
    """Bytes used by a team: render outputs, presenters, audio."""
    outputs = MediaAsset.objects.filter(team=team).aggregate(n=Sum("size_bytes"))["n"] or 0
    presenters = Presenter.objects.filter(team=team).aggregate(n=Sum("size_bytes"))["n"] or 0
    audio = AudioTrack.objects.filter(team=team).aggregate(n=Sum("size_bytes"))["n"] or 0
    return {
        "outputs": outputs,
        "presenters": presenters,
        "audio": audio,
        "total": outputs + presenters + audio,
    }
