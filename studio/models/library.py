"""The team's presenter library and the per-project audio library."""

from __future__ import annotations

import os
import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .base import HasError, TeamScopedModel, TimeStamped
from .fields import NoticeListField
from .projects import Project
from .teams import Team


class MediaStatus(models.TextChoices):
    PROCESSING = "processing", _("Processing")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


def random_name(folder: str, original: str) -> str:
    """``folder/<uuid hex><ext>``: stored names never come from the user."""
    ext = os.path.splitext(original)[1].lower()
    if not ext.isascii() or len(ext) > 8:
        ext = ""
    return f"{folder}/{uuid.uuid4().hex}{ext}"


def presenter_upload_to(instance: Presenter, filename: str) -> str:
    return random_name(f"presenters/{instance.team_id}", filename)


def audio_upload_to(instance: AudioTrack, filename: str) -> str:
    return random_name(f"audio/{instance.team_id}", filename)


def subtitles_upload_to(instance: AudioTrack, filename: str) -> str:
    return random_name(f"subtitles/{instance.team_id}", filename)


class CheckRun(models.Model):
    """The run of a presenter's or audio track's background check (``job_id`` is its RQ job):
    what the reconciler needs to tell a live run from a lost one (:mod:`studio.reconcile`)."""

    #: When the current job was queued, when its run began and on which worker.
    job_queued_at = models.DateTimeField(null=True, blank=True)
    job_started_at = models.DateTimeField(null=True, blank=True)
    job_worker = models.CharField(max_length=120, blank=True)
    #: Runs of the check since it was last asked for (a lost run counts).
    job_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True


class Tag(TeamScopedModel):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(_("name"), max_length=40)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_tag")]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class Presenter(TeamScopedModel, TimeStamped, HasError, CheckRun):
    """A video or photo of a person, shared by the whole team."""

    class Kind(models.TextChoices):
        VIDEO = "video", _("Video")
        IMAGE = "image", _("Photo")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="presenters")
    name = models.CharField(_("name"), max_length=200)
    tags = models.ManyToManyField(Tag, blank=True, related_name="presenters")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.VIDEO)
    file = models.FileField(upload_to=presenter_upload_to, max_length=255)
    original_filename = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    thumbnail = models.FileField(upload_to="thumbs/", blank=True, max_length=255)
    duration_s = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    has_audio = models.BooleanField(default=False)
    status = models.CharField(
        max_length=12, choices=MediaStatus.choices, default=MediaStatus.PROCESSING, db_index=True
    )
    #: Share of frames with a face (0..1), median face height (px and share of frame height).
    face_share = models.FloatField(null=True, blank=True)
    face_height_px = models.FloatField(null=True, blank=True)
    face_height_ratio = models.FloatField(null=True, blank=True)
    frames_total = models.PositiveIntegerField(null=True, blank=True)
    detector = models.CharField(max_length=60, blank=True)
    #: What the face check noticed (side face, tiny face ...), see studio/notices.py.
    warnings = NoticeListField()
    job_id = models.CharField(max_length=64, blank=True)
    prepared_at = models.DateTimeField(null=True, blank=True)
    archived = models.BooleanField(_("archived"), default=False, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("presenter")
        verbose_name_plural = _("presenters")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("presenter_detail", args=[self.pk])

    @property
    def is_ready(self) -> bool:
        return self.status == MediaStatus.READY


class AudioTrack(TeamScopedModel, TimeStamped, HasError, CheckRun):
    """A voice recording of the team: in a project, or in the team's audio library without
    one (a batch of any project may use library audio)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="audio_tracks")
    #: None: the team's audio library (no project). A deleted project's audio moves there.
    project = models.ForeignKey(
        Project,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audio_tracks",
        verbose_name=_("project"),
    )
    name = models.CharField(_("name"), max_length=200)
    file = models.FileField(upload_to=audio_upload_to, max_length=255)
    original_filename = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    codec = models.CharField(max_length=40, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    sample_rate = models.PositiveIntegerField(null=True, blank=True)
    channels = models.PositiveSmallIntegerField(null=True, blank=True)
    waveform = models.FileField(upload_to="waveforms/", blank=True, max_length=255)
    status = models.CharField(
        max_length=12, choices=MediaStatus.choices, default=MediaStatus.PROCESSING, db_index=True
    )
    #: Measurements behind the warnings (peak, clipping share, longest silence ...).
    stats = models.JSONField(default=dict, blank=True)
    warnings = NoticeListField()
    job_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: What is said, timed (SRT or WebVTT, checked when attached): every render of the track
    #: gets it as a subtitle track, burned into the picture when its batch asks for that.
    subtitles = models.FileField(upload_to=subtitles_upload_to, blank=True, max_length=255)
    subtitles_filename = models.CharField(max_length=255, blank=True)
    #: "srt" or "vtt", and how many cues the file holds.
    subtitles_format = models.CharField(max_length=4, blank=True)
    subtitles_cues = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("audio track")
        verbose_name_plural = _("audio tracks")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("audio_detail", args=[self.pk])

    def save(self, *args, **kwargs) -> None:
        if self.team_id is None and self.project_id is not None:
            self.team_id = Project.objects.values_list("team_id", flat=True).get(pk=self.project_id)
        super().save(*args, **kwargs)

    @property
    def is_ready(self) -> bool:
        return self.status == MediaStatus.READY

    def usable_in(self, project: Project) -> bool:
        """A batch of ``project`` may use this track: it is in that project or in the
        team's audio library."""
        return self.team_id == project.team_id and self.project_id in (None, project.pk)


class Upload(TeamScopedModel, TimeStamped, HasError):
    """One resumable upload in progress (see README, "Upload protocol")."""

    class Kind(models.TextChoices):
        PRESENTER = "presenter", _("Presenter")
        AUDIO = "audio", _("Audio")

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="uploads")
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="uploads"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    result_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")

    def __str__(self) -> str:
        return self.filename

    @property
    def part_path(self) -> str:
        return os.path.join(settings.MEDIA_ROOT, "uploads", f"{self.id.hex}.part")
