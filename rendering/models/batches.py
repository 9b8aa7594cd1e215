"""Batches of renders: one or more audio tracks x many presenters, one task per pair."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from studio.models import AudioTrack, HasError, Presenter, Project, Team, TeamScopedModel
from studio.models.base import TimeStamped
from studio.queues import QueueName


class TaskStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_STATUSES = (TaskStatus.QUEUED, TaskStatus.RUNNING)
FINAL_STATUSES = (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)
#: Error codes (``studio.notices``) of failures that running the render again cannot fix.
UNRETRYABLE_CODES = frozenset({"input", "engine_unusable"})


class Quality(models.TextChoices):
    DRAFT = "draft", _("Draft (small files)")
    STANDARD = "standard", _("Standard")
    HIGH = "high", _("High")


#: x264 constant rate factor of each quality: lower is better and bigger.
QUALITY_CRF = {Quality.DRAFT: 28, Quality.STANDARD: 22, Quality.HIGH: 18}


class DurationMode(models.TextChoices):
    """What a render does when the speech outlasts the presenter clip (:mod:`lipsync.timeline`)."""

    BOUNCE = "bounce", _("Play back and forth")
    LOOP = "loop", _("Loop from the start")
    CUT = "cut", _("End with the video (the speech is cut)")
    HOLD = "hold", _("Hold the last frame")


class NoFacePolicy(models.TextChoices):
    """What a render does with frames where no usable face is found."""

    PASS = "pass", _("Leave them untouched")
    FAIL = "fail", _("Fail the render")


class BatchStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    PARTIAL = "partial", _("Partly failed")
    #: Some renders finished, the others were cancelled: nothing failed.
    PARTLY_CANCELLED = "partly_cancelled", _("Partly cancelled")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Batch(TeamScopedModel, TimeStamped):
    """A set of renders submitted together. Its status and progress come from its tasks."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="batches")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(_("name"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    engine = models.CharField(_("engine"), max_length=40)
    max_height = models.PositiveIntegerField(_("output size cap (height)"), null=True, blank=True)
    quality = models.CharField(
        _("quality"), max_length=12, choices=Quality.choices, default=Quality.STANDARD
    )
    #: A preview renders only the first ``preview_seconds`` of the audio.
    is_preview = models.BooleanField(default=False, db_index=True)
    preview_seconds = models.FloatField(null=True, blank=True)
    #: Kept up to date from the tasks (see :meth:`refresh_status`) so lists need no aggregation.
    status = models.CharField(
        max_length=20, choices=BatchStatus.choices, default=BatchStatus.QUEUED, db_index=True
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    #: File names of the results (downloads, zip entries): see :mod:`rendering.naming`.
    output_template = models.CharField(
        _("file name template"), max_length=255, default="{presenter}__{audio}.mp4"
    )
    #: Draw the subtitles of audio tracks that have them into the picture (results carry them
    #: as a subtitle track either way).
    burn_subtitles = models.BooleanField(_("burn subtitles into the picture"), default=False)
    duration_mode = models.CharField(
        _("when the speech is longer than the video"),
        max_length=8,
        choices=DurationMode.choices,
        default=DurationMode.BOUNCE,
    )
    no_face = models.CharField(
        _("frames without a face"),
        max_length=8,
        choices=NoFacePolicy.choices,
        default=NoFacePolicy.PASS,
    )
    #: Aim each video's bitrate at its presenter's (the frame rate is the presenter's anyway,
    #: unless variable); otherwise ``quality`` sets a constant quality level.
    match_source = models.BooleanField(_("match the source's quality"), default=False)
    #: When ``batch_completed`` was sent for the batch's current run (cleared when a task of it
    #: runs again), so the event goes out once however many workers finish at the same time.
    completion_announced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("batch")
        verbose_name_plural = _("batches")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("batch_detail", args=[self.pk])

    @property
    def display_name(self) -> str:
        """The name as shown: a preview's carries the "Preview" label in the reader's language."""
        if self.is_preview:
            # Previews named before the label was added at display stored it in the name.
            name = self.name.removeprefix("Preview: ").removeprefix("预览：")
            return gettext("Preview: %(name)s") % {"name": name}
        return self.name

    @property
    def crf(self) -> int:
        return QUALITY_CRF.get(Quality(self.quality), QUALITY_CRF[Quality.STANDARD])

    @property
    def group_name(self) -> str:
        return f"batch-{self.pk}"

    def counts(self) -> dict[str, int]:
        counts = {status: 0 for status in TaskStatus.values}
        for row in self.tasks.values("status").annotate(n=models.Count("id")):
            counts[row["status"]] = row["n"]
        counts["total"] = sum(counts[s] for s in TaskStatus.values)
        return counts

    def progress_percent(self) -> float:
        """Work done: succeeded tasks count 100, active ones their percentage, failed or
        cancelled ones 0 (so a failed batch does not read 100%)."""
        return done_percent(self.tasks.only("status", "percent"))

    def refresh_status(self) -> str:
        """Derive and store the batch status from the task statuses; return it."""
        statuses = list(self.tasks.values_list("status", flat=True))
        new = derive_batch_status(statuses)
        fields: dict[str, object] = {}
        if new != self.status:
            fields["status"] = new
        finished = new not in (BatchStatus.QUEUED, BatchStatus.RUNNING)
        if finished and self.finished_at is None:
            fields["finished_at"] = timezone.now()
        elif not finished and self.finished_at is not None:
            fields["finished_at"] = None
        if fields:
            Batch.objects.filter(pk=self.pk).update(**fields)
            for key, value in fields.items():
                setattr(self, key, value)
        return self.status


def done_percent(tasks: Iterable[RenderTask]) -> float:
    """Work done: succeeded renders count 100, active ones their percent, failed ones 0."""
    tasks = list(tasks)
    if not tasks:
        return 0.0
    return sum(
        100.0
        if t.status == TaskStatus.SUCCEEDED
        else float(t.percent or 0.0)
        if t.status in ACTIVE_STATUSES
        else 0.0
        for t in tasks
    ) / len(tasks)


def derive_batch_status(statuses: Iterable[str]) -> str:
    """The batch's status from its tasks' (an empty batch counts as cancelled).

    A cancelled render is something a person chose, not a failure: a batch is *failed* or
    *partly failed* only when a render failed; finished and cancelled renders without a
    failure make it *partly cancelled*, only cancelled ones *cancelled*.
    """
    statuses = list(statuses)
    if not statuses:
        return BatchStatus.CANCELLED
    if any(s == TaskStatus.RUNNING for s in statuses):
        return BatchStatus.RUNNING
    if any(s == TaskStatus.QUEUED for s in statuses):
        started = any(s != TaskStatus.QUEUED for s in statuses)
        return BatchStatus.RUNNING if started else BatchStatus.QUEUED
    succeeded = statuses.count(TaskStatus.SUCCEEDED)
    failed = statuses.count(TaskStatus.FAILED)
    if succeeded == len(statuses):
        return BatchStatus.SUCCEEDED
    if failed:
        return BatchStatus.PARTIAL if succeeded else BatchStatus.FAILED
    return BatchStatus.PARTLY_CANCELLED if succeeded else BatchStatus.CANCELLED


class RenderTask(TeamScopedModel, TimeStamped, HasError):
    """One render: one audio track spoken by one presenter."""

    team_path = "batch__team"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="tasks")
    position = models.PositiveIntegerField(default=0)
    presenter = models.ForeignKey(
        Presenter, null=True, on_delete=models.SET_NULL, related_name="render_tasks"
    )
    audio = models.ForeignKey(
        AudioTrack, null=True, on_delete=models.SET_NULL, related_name="render_tasks"
    )
    #: Names copied at submission, so a task still reads right after its inputs are deleted.
    presenter_name = models.CharField(max_length=200)
    audio_name = models.CharField(max_length=200)

    status = models.CharField(
        max_length=12, choices=TaskStatus.choices, default=TaskStatus.QUEUED, db_index=True
    )
    stage = models.CharField(max_length=40, blank=True)
    percent = models.FloatField(default=0.0)
    fps = models.FloatField(null=True, blank=True)
    eta_s = models.FloatField(null=True, blank=True)
    frames_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(default=0)

    rq_job_id = models.CharField(max_length=64, blank=True, db_index=True)
    queue_name = models.CharField(max_length=40, default=QueueName.GPU)
    timeout_s = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    cancel_requested = models.BooleanField(default=False)
    worker_name = models.CharField(max_length=120, blank=True)
    device = models.CharField(max_length=20, blank=True)
    #: The worker process's engine load count when this task ran (1 = this task paid the load).
    worker_model_loads = models.PositiveIntegerField(null=True, blank=True)

    queued_at = models.DateTimeField(null=True, blank=True)
    #: When its job was handed to RQ; None while the task waits in its team's backlog (the
    #: fair-share scheduler in :mod:`rendering.lifecycle` decides when).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    #: When RQ runs a failed attempt again (set while the task waits for that retry).
    retry_at = models.DateTimeField(null=True, blank=True)
    #: What the last attempt's internal error was (exception type, engine stage, inputs): the
    #: same error twice in a row is not retried again (:mod:`rendering.jobs`).
    failure_fingerprint = models.CharField(max_length=40, blank=True)

    #: For admins (``error`` is the sentence for people).
    traceback = models.TextField(blank=True)
    output = models.ForeignKey(
        "rendering.MediaAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Frames written as they were, for want of a usable face, and their [start, end] seconds
    #: in the output (also known when the batch's no-face policy failed the render).
    untouched_frames = models.PositiveIntegerField(default=0)
    untouched_ranges = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["batch_id", "position", "id"]
        indexes = [models.Index(fields=["status", "dispatched_at"], name="task_backlog_idx")]
        verbose_name = _("render task")
        verbose_name_plural = _("render tasks")

    def __str__(self) -> str:
        return f"{self.presenter_name} × {self.audio_name}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def retryable(self) -> bool:
        """Failed or cancelled with an error a retry may fix (not bad input, not weights)."""
        if self.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            return False
        return self.error is None or self.error.code not in UNRETRYABLE_CODES

    @property
    def untouched_text(self) -> str:
        """ "12 frames without a face left untouched: 0.00–0.48 s", in the reader's language;
        empty when every frame had one."""
        if not self.untouched_frames:
            return ""
        return untouched_text(self.untouched_frames, self.untouched_ranges)

    @property
    def retry_in_s(self) -> float | None:
        """Seconds until the waiting retry of a failed attempt runs (None when none waits)."""
        if self.status != TaskStatus.QUEUED or self.retry_at is None:
            return None
        return max((self.retry_at - timezone.now()).total_seconds(), 0.0)

    @property
    def status_label(self) -> str:
        """The status for people: "Retrying in N s (attempt k of n)" while a retry waits (not a
        plain "Queued"), else the status's name."""
        wait = self.retry_in_s
        if wait is None:
            return str(self.get_status_display())
        return gettext("Retrying in %(s)s s (attempt %(n)s of %(max)s)") % {
            "s": math.ceil(wait),
            "n": self.attempts + 1,
            "max": self.max_attempts,
        }

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


def untouched_text(frames: int, ranges: Iterable[Sequence[float]]) -> str:
    """The sentence for frames left untouched (``ranges``: [start, end] seconds)."""
    from lipsync.timeline import format_ranges

    shown = format_ranges(tuple((float(a), float(b)) for a, b in ranges))
    return ngettext(
        "%(n)d frame without a face was left untouched: %(ranges)s",
        "%(n)d frames without a face were left untouched: %(ranges)s",
        frames,
    ) % {"n": frames, "ranges": shown}
