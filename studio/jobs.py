"""Background jobs of the libraries, run on the ``cpu`` RQ queue.

* :func:`check_presenter`: the engine's *prepare* (face track, cached in the TrackCache so
  renders skip detection), then face statistics, warnings and a thumbnail.
* :func:`analyse_audio`: duration, waveform picture, warnings (clipping, long silence,
  music-like input).

Every run ends its row: ready, or failed with the engine's reason for bad input, or failed with
an internal-error notice (the traceback in the log under its reference) for anything else. A
run records its start (``job_started_at``, ``job_worker``) and writes only while the row still
expects its job (a re-check or the reconciler may have queued another one). A run that cannot
end its row (worker killed, database gone) is found by :mod:`studio.reconcile`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from django.core.files.base import ContentFile
from django.db.models import F, QuerySet
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_noop
from redis.exceptions import RedisError
from rq import get_current_job

from lipsync.errors import InputError

from . import events, queues
from .db import reconnecting
from .models import AudioTrack, MediaStatus, Presenter
from .notices import Notice, engine_stage, from_input_error, internal_error, notice
from .queues import QueueName
from .services import audio_analysis, face_check

log = logging.getLogger("studio.jobs")

#: Job time limits: a face check tracks every frame of a long clip on a CPU.
PRESENTER_CHECK_TIMEOUT_S = 6 * 3600
AUDIO_ANALYSIS_TIMEOUT_S = 3600
#: What "internal error in %(stage)s" names for these jobs.
CHECK_STAGE = gettext_noop("the file check")


def _enqueue(
    func: Callable[[int], str],
    obj: Presenter | AudioTrack,
    timeout_s: int,
    *,
    again: bool = False,
    note: Notice | None = None,
) -> bool:
    """Queue ``func(obj.pk)`` (after the current transaction); if Redis cannot be reached the
    object fails with a reason that says so ("Check again" queues it once more).

    ``again``: the reconciler sends a lost run once more (only while the row still expects the
    job it had, counting the run; ``note`` is shown meanwhile). Returns whether it queued.
    """
    model = type(obj)

    def unreachable(exc: RedisError) -> None:
        model.objects.filter(pk=obj.pk, job_id=job_id).update(
            status=MediaStatus.FAILED,
            error=notice(
                "queue_unreachable",
                gettext_noop(
                    "%(file)s: the background queue is not reachable (%(why)s); try the check "
                    "again later"
                ),
                file=obj.original_filename,
                why=exc.__class__.__name__,
            ),
        )

    job_id = queues.new_job_id()
    run = {"job_id": job_id, "job_queued_at": timezone.now(), "job_started_at": None}
    rows = model.objects.filter(pk=obj.pk)
    if again:
        rows = rows.filter(status=MediaStatus.PROCESSING, job_id=obj.job_id)
        changed = rows.update(**run, job_worker="", job_attempts=F("job_attempts") + 1, error=note)
    else:
        changed = rows.update(**run, job_worker="", job_attempts=1)
    if not changed:
        return False
    queues.enqueue(
        QueueName.CPU,
        func,
        obj.pk,
        job_id=job_id,
        timeout_s=timeout_s,
        description=f"{func.__name__} {obj.pk}",
        on_unavailable=unreachable,
    )
    return True


def enqueue_presenter_check(presenter: Presenter, **kwargs: Any) -> bool:
    return _enqueue(check_presenter, presenter, PRESENTER_CHECK_TIMEOUT_S, **kwargs)


def enqueue_audio_analysis(track: AudioTrack, **kwargs: Any) -> bool:
    return _enqueue(analyse_audio, track, AUDIO_ANALYSIS_TIMEOUT_S, **kwargs)


def _start(model: type[Presenter] | type[AudioTrack], pk: int) -> QuerySet[Any] | None:
    """Record the start of this job's run; the rows it may write to, None if the row is gone
    or expects another job (then this run does nothing)."""
    job = get_current_job()
    rows = model.objects.filter(pk=pk)
    if job is None:  # called directly (tests, shell)
        return rows if rows.exists() else None
    rows = rows.filter(job_id=job.id, status=MediaStatus.PROCESSING)
    started = rows.update(job_started_at=timezone.now(), job_worker=job.worker_name or "")
    return rows if started else None


def _error_for(obj: Presenter | AudioTrack, exc: Exception) -> Notice:
    """Bad input: the engine's reason under the user's file name; anything else: an internal
    error with a reference (never the exception's text)."""
    if isinstance(exc, InputError):
        return from_input_error(exc, obj.original_filename)
    return internal_error(engine_stage(exc, CHECK_STAGE), exc, log)


def _failed(rows: QuerySet[Any], error: Notice, **fields: Any) -> str:
    """Mark the row failed with ``error`` (kept untranslated, see studio.notices)."""
    reconnecting(rows.update, status=MediaStatus.FAILED, error=error, **fields)
    return MediaStatus.FAILED


def _ready(
    obj: Presenter | AudioTrack,
    rows: QuerySet[Any],
    file_field: str,
    name: str,
    content: bytes,
    **fields: Any,
) -> str:
    """Store the check's picture as ``obj.<file_field>`` (removing the one a re-check
    replaces) and mark the row ready with ``fields``."""
    field_file = getattr(obj, file_field)
    if field_file:
        field_file.storage.delete(field_file.name)
    field_file.save(name, ContentFile(content), save=False)
    reconnecting(
        rows.update,
        status=MediaStatus.READY,
        error=None,
        **{file_field: field_file.name},
        **fields,
    )
    return MediaStatus.READY


def check_presenter(presenter_id: int) -> str:
    """Face-check one presenter and store the result on its row. Returns the final status."""
    presenter = Presenter.objects.filter(pk=presenter_id).first()
    rows = _start(Presenter, presenter_id) if presenter is not None else None
    if presenter is None or rows is None:
        return "gone"
    path = presenter.file.path
    log.info("face check of presenter %s (%s)", presenter.pk, presenter.original_filename)
    try:
        result = face_check.check(
            path,
            display_name=presenter.original_filename,
            width=presenter.width or 0,
            height=presenter.height or 0,
            pick=presenter.face_pick,
        )
    except Exception as exc:  # every failure ends the row (_error_for)
        log.info("presenter %s failed: %s", presenter.pk, exc)
        status = _failed(rows, _error_for(presenter, exc), prepared_at=timezone.now())
        _announce(events.presenter_failed, presenter_id)
        return status
    _ready(
        presenter,
        rows,
        "thumbnail",
        f"{presenter.team_id}/{os.path.basename(presenter.file.name or '')}.jpg",
        result.thumbnail_jpeg,
        faces_seen=result.faces,
        faces_image=_faces_picture(presenter, result),
        face_share=result.face_share,
        face_height_px=result.face_height_px,
        face_height_ratio=result.face_height_ratio,
        frames_total=result.n_frames,
        detector=result.detector,
        warnings=result.warnings,
        prepared_at=timezone.now(),
    )
    log.info(
        "presenter %s ready: face in %.0f%% of %d frames",
        presenter.pk,
        100 * result.face_share,
        result.n_frames,
    )
    _announce(events.presenter_ready, presenter_id)
    return MediaStatus.READY


def _faces_picture(presenter: Presenter, result: face_check.FaceCheck) -> str:
    """Store the picture of the faces seen (replacing an earlier one); its name for the row
    (empty: none)."""
    old = presenter.faces_image
    if old and old.name:
        old.storage.delete(old.name)
    name = ""
    if result.faces_jpeg:
        base = os.path.basename(presenter.file.name or "")
        presenter.faces_image.save(
            f"{presenter.team_id}/{base}.jpg", ContentFile(result.faces_jpeg), save=False
        )
        name = presenter.faces_image.name or ""
    return name


def _announce(signal: Signal, presenter_id: int) -> None:
    """Tell listeners (:mod:`studio.events`) how the check ended, with the row as stored."""
    presenter = Presenter.objects.filter(pk=presenter_id).first()
    if presenter is not None:
        events.send(signal, Presenter, presenter=presenter)


def analyse_audio(audio_id: int) -> str:
    """Analyse one audio track and store the result on its row. Returns the final status."""
    track = AudioTrack.objects.filter(pk=audio_id).select_related("project").first()
    rows = _start(AudioTrack, audio_id) if track is not None else None
    if track is None or rows is None:
        return "gone"
    log.info("analysing audio %s (%s)", track.pk, track.original_filename)
    try:
        result = audio_analysis.analyse(track.file.path, display_name=track.original_filename)
    except Exception as exc:  # every failure ends the row (_error_for)
        return _failed(rows, _error_for(track, exc))
    return _ready(
        track,
        rows,
        "waveform",
        f"{track.team_id}/{os.path.basename(track.file.name or '')}.png",
        result.waveform_png,
        duration_s=result.duration_s,
        stats=result.stats,
        warnings=result.warnings,
    )


# --- e-mail (only when the server sends e-mail: settings.EMAIL_ENABLED) ---------------------
def email_notification(notification_id: int) -> str:
    """E-mail one notification to its person, in the language on their account. A mail
    server that refuses for a moment raises (RQ tries again); sent once."""
    from django.template.loader import render_to_string
    from django.utils import translation

    from .models import Notification
    from .services.people import reading_language

    row = Notification.objects.filter(pk=notification_id).select_related("user", "team").first()
    if row is None or row.emailed_at is not None or not row.user.email:
        return "skipped"
    with translation.override(reading_language(row.user)):
        subject = row.title_text
        body = render_to_string(
            "email/notification.txt",
            {
                "user": row.user,
                "notification": row,
                "link": absolute_url(row.url) if row.url else "",
                "team": row.team.name,
            },
        )
    _send(subject, body, row.user.email)
    Notification.objects.filter(pk=row.pk, emailed_at=None).update(emailed_at=timezone.now())
    log.info("notification %s e-mailed", row.pk)
    return "sent"


def email_invitation(invitation_id: int, link: str, language: str) -> str:
    """E-mail an invitation link to the address it was made for, in the inviter's language
    (the person invited may not have an account yet)."""
    from django.template.loader import render_to_string
    from django.utils import translation
    from django.utils.translation import gettext

    from .models import Invitation

    invitation = (
        Invitation.objects.filter(pk=invitation_id).select_related("team", "invited_by").first()
    )
    if invitation is None or not invitation.email or not invitation.is_usable:
        return "skipped"
    with translation.override(language):
        subject = gettext("You are invited to join %(team)s") % {"team": invitation.team.name}
        body = render_to_string("email/invitation.txt", {"invitation": invitation, "link": link})
    _send(subject, body, invitation.email)
    return "sent"


def absolute_url(path: str) -> str:
    """``path`` of this site as a link for e-mails (``STUDIO_URL`` + path)."""
    from django.conf import settings

    return settings.STUDIO_URL.rstrip("/") + path


def _send(subject: str, body: str, to: str) -> None:
    from django.conf import settings
    from django.core.mail import send_mail

    send_mail(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [to])
