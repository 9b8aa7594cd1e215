"""The library side's reconciler: no presenter or audio track stays "processing" forever.

A row under check (``processing``) carries its job (``job_id``, ``job_queued_at``,
``job_started_at``, ``job_worker``, ``job_attempts``). Its run is lost when (rule of
:mod:`studio.recovery`):

* the job was started and its worker is silent for ``WORKER_STALE_AFTER_S``, or alive but on
  another job (killed, out of memory, its database connection lost at the end);
* the job is missing from Redis, or ended in RQ without ending the row, for
  ``RECONCILE_LOST_QUEUED_S`` after it was queued.

A lost run is queued again (the row says so meanwhile) while the check has had fewer than
``CHECK_MAX_ATTEMPTS`` runs, else the row fails with a reason that says what happened and
what to do ("Check again"). Every change is conditional on the row still expecting the job
that was judged, so a run that ends at the same moment wins. Bound: a lost check is found
within ``WORKER_STALE_AFTER_S`` (killed worker) or ``RECONCILE_LOST_QUEUED_S`` (lost job)
plus ``RECONCILE_INTERVAL_S``.

Registered in :mod:`studio.apps` with :func:`studio.recovery.register`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop
from redis import Redis

from . import events, queues
from .models import AudioTrack, MediaStatus, Presenter
from .notices import Notice, notice
from .queues import QueueName
from .recovery import JobState, fail_rq_job, job_state

log = logging.getLogger("studio.reconcile")


def _lost_note(obj: Presenter | AudioTrack, state: JobState) -> str:
    return f"{type(obj).__name__.lower()} {obj.pk}: its check job {obj.job_id or '-'} is {state}"


def _send_again(obj: Presenter | AudioTrack, note: Notice) -> bool:
    from .jobs import enqueue_audio_analysis, enqueue_presenter_check

    if isinstance(obj, Presenter):
        return enqueue_presenter_check(obj, again=True, note=note)
    return enqueue_audio_analysis(obj, again=True, note=note)


def reconcile_checks(
    connection: Redis | None = None, now: datetime | None = None
) -> dict[str, list[int]]:
    """One pass over presenters and audio tracks under check; returns what it changed."""
    now = now or timezone.now()
    connection = connection or queues.connection(QueueName.CPU)
    report: dict[str, list[int]] = {
        "presenters_requeued": [],
        "presenters_failed": [],
        "audio_requeued": [],
        "audio_failed": [],
    }
    started_cutoff = now - timedelta(seconds=settings.WORKER_STALE_AFTER_S)
    lost_after = now - timedelta(seconds=settings.RECONCILE_LOST_QUEUED_S)
    kinds: tuple[tuple[type[Presenter] | type[AudioTrack], str], ...] = (
        (Presenter, "presenters"),
        (AudioTrack, "audio"),
    )
    for model, key in kinds:
        rows = model.objects.filter(status=MediaStatus.PROCESSING).filter(
            Q(job_queued_at__lt=started_cutoff)
            | Q(job_queued_at__isnull=True, updated_at__lt=lost_after)
        )
        for obj in rows:
            state = job_state(connection, obj.job_id, now)
            if state in (JobState.WAITING, JobState.RUNNING):
                continue
            queued_at = obj.job_queued_at or obj.updated_at
            if state != JobState.DEAD and queued_at >= lost_after:
                continue  # just sent, or just ending: give it the grace time
            log.warning("%s", _lost_note(obj, state))
            if state == JobState.DEAD:
                fail_rq_job(connection, obj.job_id, "worker lost")
            if obj.job_attempts < settings.CHECK_MAX_ATTEMPTS:
                note = notice(
                    "check_interrupted",
                    gettext_noop(
                        "The check of %(file)s was interrupted (its worker stopped); checking "
                        "again (attempt %(next)d of %(max)d)."
                    ),
                    file=obj.original_filename,
                    next=obj.job_attempts + 1,
                    max=settings.CHECK_MAX_ATTEMPTS,
                )
                if _send_again(obj, note):
                    report[f"{key}_requeued"].append(obj.pk)
                continue
            error = notice(
                "check_lost",
                gettext_noop(
                    "%(file)s: the check stopped %(n)d times without finishing (its worker was "
                    "lost); use “Check again”, and tell your administrator if it keeps happening"
                ),
                file=obj.original_filename,
                n=obj.job_attempts,
            )
            if model.objects.filter(
                pk=obj.pk, status=MediaStatus.PROCESSING, job_id=obj.job_id
            ).update(status=MediaStatus.FAILED, error=error):
                report[f"{key}_failed"].append(obj.pk)
                if isinstance(obj, Presenter):
                    obj.refresh_from_db()
                    events.send(events.presenter_failed, Presenter, presenter=obj)
    return report
