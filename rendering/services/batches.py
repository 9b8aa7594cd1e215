"""Submitting, cancelling and retrying batches of renders.

Views, the admin and the API go through these functions; they hold the rules (who may, what is
refused, how long a job may take) and write the audit log, so the HTTP layer stays thin. Every
change of a task's status goes through :mod:`rendering.lifecycle`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from lipsync.engines import DEFAULT_ENGINE
from lipsync.engines.base import engine_names
from lipsync.models import manager
from studio.actor import Actor
from studio.audit import record
from studio.models import AudioTrack, AuditAction, MediaStatus, Presenter, Project, Team
from studio.queues import QueueName
from studio.services import quotas
from studio.services.storage import NotEnoughSpace, check_free_disk

from .. import lifecycle, naming
from ..models import (
    ACTIVE_STATUSES,
    Batch,
    DurationMode,
    MediaAsset,
    NoFacePolicy,
    Quality,
    RenderTask,
    TaskStatus,
)
from .engines import model_dir
from .estimates import render_timeout_s

log = logging.getLogger("rendering.batches")


class BatchRefused(Exception):
    """A batch cannot be submitted (or a task retried); the message is for the user."""


@dataclass
class BatchSpec:
    """What the user asked for."""

    project: Project
    audios: Sequence[AudioTrack]
    presenters: Sequence[Presenter]
    engine: str = DEFAULT_ENGINE
    max_height: int | None = None
    quality: str = Quality.STANDARD
    name: str = ""
    preview: bool = False
    #: Renders as (audio, presenter) pairs (a manifest); None: every audio × every presenter.
    #: ``audios`` and ``presenters`` then list the tracks and presenters the pairs use.
    pairs: Sequence[tuple[AudioTrack, Presenter]] | None = None
    #: File names of the results, see :mod:`rendering.naming` ("" = the default).
    output_template: str = ""
    #: Draw audio tracks' subtitles into the picture (they are a subtitle track anyway).
    burn_subtitles: bool = False
    #: When the speech outlasts a presenter clip (:class:`~rendering.models.DurationMode`).
    duration_mode: str = DurationMode.BOUNCE
    #: Frames without a face: left untouched or fail the render.
    no_face: str = NoFacePolicy.PASS
    #: Aim the bitrate at each presenter's own.
    match_source: bool = False

    def task_pairs(self) -> list[tuple[AudioTrack, Presenter]]:
        if self.pairs is not None:
            return list(self.pairs)
        return [(a, p) for a in self.audios for p in self.presenters]


def _default_name(spec: BatchSpec) -> str:
    """The name of a batch the user did not name. A preview's is only its parts (the
    "Preview" label is added, translated, when shown: :attr:`Batch.display_name`)."""
    audio = (
        spec.audios[0].name
        if len(spec.audios) == 1
        else _("%(n)d audio tracks") % {"n": len(spec.audios)}
    )
    if spec.preview:
        return f"{spec.presenters[0].name} × {audio}"
    return _("%(audio)s × %(n)d presenters") % {"audio": audio, "n": len(spec.presenters)}


def validate_spec(spec: BatchSpec) -> None:
    team = spec.project.team
    if not spec.audios:
        raise BatchRefused(_("Choose at least one audio track."))
    if not spec.presenters:
        raise BatchRefused(_("Choose at least one presenter."))
    if spec.preview and (len(spec.audios) != 1 or len(spec.presenters) != 1):
        raise BatchRefused(_("A preview renders one presenter with one audio track."))
    limit = settings.MAX_BATCH_TASKS
    if len(spec.task_pairs()) > limit:
        raise BatchRefused(_("A batch may hold at most %(n)d renders.") % {"n": limit})
    if spec.engine not in engine_names():
        raise BatchRefused(_("Unknown engine “%(name)s”.") % {"name": spec.engine})
    # Judged as the batch form judges it (the model folder, no engine import: no torch).
    if spec.engine not in manager.usable_engines(model_dir()):
        raise BatchRefused(
            _(
                "The engine “%(name)s” needs model weights that this server does not have; choose "
                "another engine or ask your administrator."
            )
            % {"name": spec.engine}
        )
    if spec.quality not in Quality.values:
        raise BatchRefused(_("Unknown quality “%(name)s”.") % {"name": spec.quality})
    if spec.duration_mode not in DurationMode.values:
        raise BatchRefused(_("Unknown duration mode “%(name)s”.") % {"name": spec.duration_mode})
    if spec.no_face not in NoFacePolicy.values:
        raise BatchRefused(
            _("Unknown choice for frames without a face “%(name)s”.") % {"name": spec.no_face}
        )
    for audio in spec.audios:
        if not audio.usable_in(spec.project):
            raise BatchRefused(
                _("Audio “%(name)s” is neither in this project nor in the audio library.")
                % {"name": audio.name}
            )
        if audio.status != MediaStatus.READY:
            raise BatchRefused(_("Audio “%(name)s” is not ready.") % {"name": audio.name})
    for presenter in spec.presenters:
        if presenter.team_id != team.pk:
            raise BatchRefused(
                _("Presenter “%(name)s” is not in this team.") % {"name": presenter.name}
            )
        if presenter.status == MediaStatus.PROCESSING:
            raise BatchRefused(
                _("Presenter “%(name)s” is still being prepared.") % {"name": presenter.name}
            )
    if spec.pairs is not None:
        audio_ids = {a.pk for a in spec.audios}
        presenter_ids = {p.pk for p in spec.presenters}
        if any(a.pk not in audio_ids or p.pk not in presenter_ids for a, p in spec.pairs):
            raise BatchRefused(_("Every pair must use the batch's audio tracks and presenters."))
    try:
        template = naming.check_template(spec.output_template)
        if template != naming.DEFAULT_TEMPLATE:
            # A chosen template must name every render apart; the default keeps the zip's
            # " (2)" for presenters of the same name, as before templates existed.
            naming.names_for(
                template,
                [
                    naming.NameParts(p.name, a.name, spec.name, i, p.pk, a.pk)
                    for i, (a, p) in enumerate(spec.task_pairs())
                ],
            )
    except naming.TemplateError as exc:
        raise BatchRefused(str(exc)) from exc


def create_batch(actor: Actor, spec: BatchSpec) -> Batch:
    """Create the batch and its tasks in one transaction; their jobs are queued after it.

    Presenters whose preparation failed still get a task: it fails with the preparation's
    reason, so the batch page shows why (the user may have picked them by "select all").
    """
    validate_spec(spec)
    _check_disk()
    _check_storage(spec.project.team)
    preview_s = settings.PREVIEW_SECONDS if spec.preview else None
    with transaction.atomic():
        batch = Batch.objects.create(
            team=spec.project.team,
            project=spec.project,
            created_by=actor.user,
            name=(spec.name.strip() or _default_name(spec))[:200],
            engine=spec.engine,
            max_height=spec.max_height,
            quality=spec.quality,
            is_preview=spec.preview,
            preview_seconds=preview_s,
            output_template=naming.check_template(spec.output_template),
            burn_subtitles=spec.burn_subtitles,
            duration_mode=spec.duration_mode,
            no_face=spec.no_face,
            match_source=spec.match_source,
        )
        tasks = [
            RenderTask(
                batch=batch,
                position=position,
                presenter=presenter,
                audio=audio,
                presenter_name=presenter.name[:200],
                audio_name=audio.name[:200],
                queue_name=QueueName.GPU,
                max_attempts=settings.RENDER_MAX_ATTEMPTS,
                timeout_s=render_timeout_s(audio.duration_s, presenter.duration_s, preview_s),
            )
            for position, (audio, presenter) in enumerate(spec.task_pairs())
        ]
        lifecycle.submit(tasks)
        record(
            actor,
            batch.team,
            AuditAction.BATCH_CREATED,
            batch,
            tasks=len(tasks),
            engine=batch.engine,
            preview=batch.is_preview,
        )
    return batch


def _check_disk() -> None:
    try:
        check_free_disk()
    except NotEnoughSpace as exc:
        raise BatchRefused(str(exc)) from exc


def _check_storage(team: Team) -> None:
    """New renders add outputs: refused while the team is at its storage quota."""
    try:
        quotas.check_team_storage(team)
    except quotas.QuotaExceeded as exc:
        raise BatchRefused(exc.text()) from exc


def cancel_task(actor: Actor, task: RenderTask) -> bool:
    """Cancel one queued or running task; False if it had already ended."""
    if not lifecycle.request_cancel(task):
        return False
    record(actor, task.batch.team, AuditAction.TASK_CANCELLED, task, batch=task.batch_id)
    return True


def cancel_batch(actor: Actor, batch: Batch) -> int:
    """Cancel every active task of ``batch``; returns how many."""
    # One transaction: the scheduler runs once after it, not for every task of the batch.
    with transaction.atomic():
        active = list(batch.tasks.filter(status__in=ACTIVE_STATUSES))
        n = sum(lifecycle.request_cancel(t) for t in active)
    record(actor, batch.team, AuditAction.BATCH_CANCELLED, batch, tasks=n)
    return n


def _retry(task: RenderTask) -> bool:
    if task.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        return False
    if not task.retryable:
        raise BatchRefused(_("Trying again cannot fix this error."))
    return lifecycle.requeue(task, fresh_attempts=True)


def retry_task(actor: Actor, task: RenderTask) -> bool:
    """Run a failed or cancelled task again with a fresh set of attempts; False if it is not
    failed or cancelled. Refused (:class:`BatchRefused`) for errors a retry cannot fix (bad
    input, missing model weights) and when the disk is nearly full."""
    _check_disk()
    _check_storage(task.batch.team)
    if not _retry(task):
        return False
    record(actor, task.batch.team, AuditAction.BATCH_RETRIED, task, batch=task.batch_id)
    return True


def retry_failed(actor: Actor, batch: Batch) -> int:
    """Run every failed or cancelled task of ``batch`` that a retry can help again; returns
    how many."""
    _check_disk()
    _check_storage(batch.team)
    candidates = batch.tasks.filter(status__in=[TaskStatus.FAILED, TaskStatus.CANCELLED])
    n = sum(_retry(t) for t in candidates if t.retryable)
    record(actor, batch.team, AuditAction.BATCH_RETRIED, batch, tasks=n)
    return n


def rename_batch(actor: Actor, batch: Batch, name: str) -> Batch:
    """Give ``batch`` a new name (its videos keep the file names they were made with)."""
    name = " ".join(name.split())[:200]
    if not name:
        raise BatchRefused(_("A batch needs a name."))
    old = batch.name
    batch.name = name
    batch.save(update_fields=["name", "updated_at"])
    record(actor, batch.team, AuditAction.UPDATED, batch, kind="batch", old=old, name=name)
    return batch


@dataclass(frozen=True)
class BatchDeleted:
    renders: int
    videos_deleted: int
    videos_kept: int


def delete_batch(actor: Actor, batch: Batch, delete_videos: bool = False) -> BatchDeleted:
    """Delete ``batch`` and its renders' records.

    Refused while a render of it is queued or running (cancel the batch first: a worker must
    never write into a batch that is gone). Its finished videos stay in the media library
    (their batch link is cleared) unless ``delete_videos``; then their files go too.
    """
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if batch.tasks.filter(status__in=ACTIVE_STATUSES).exists():
            raise BatchRefused(
                _(
                    "“%(name)s” still has renders queued or running. Cancel the batch first, "
                    "then delete it."
                )
                % {"name": batch.display_name}
            )
        assets = list(MediaAsset.objects.filter(batch=batch))
        renders = batch.tasks.count()
        outcome = BatchDeleted(
            renders=renders,
            videos_deleted=len(assets) if delete_videos else 0,
            videos_kept=0 if delete_videos else len(assets),
        )
        record(
            actor,
            batch.team,
            AuditAction.DELETED,
            batch,
            kind="batch",
            renders=outcome.renders,
            videos_deleted=outcome.videos_deleted,
            videos_kept=outcome.videos_kept,
        )
        if delete_videos:
            for asset in assets:
                asset.delete()
            transaction.on_commit(lambda: _delete_files(assets))
        batch.delete()
    return outcome


def _delete_files(assets: list[MediaAsset]) -> None:
    for asset in assets:
        asset.delete_files()


def active_tasks_using(obj: Presenter | AudioTrack) -> int:
    """How many queued or running render tasks use this presenter or audio track (the library
    refuses to delete it meanwhile; registered in :mod:`rendering.apps`)."""
    tasks = RenderTask.objects.filter(status__in=ACTIVE_STATUSES)
    if isinstance(obj, Presenter):
        return tasks.filter(presenter=obj).count()
    return tasks.filter(audio=obj).count()
