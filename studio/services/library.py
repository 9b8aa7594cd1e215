"""The presenter and audio libraries: taking files in, renaming, archiving, deleting.

The file is judged by its content (``lipsync.media.probe``), never by its name. A file that
is not usable raises :class:`lipsync.errors.InputError` whose message names the file and the
reason; nothing is stored then. A good file is moved under ``MEDIA_ROOT`` with a random name and
its background check (face track or audio analysis) is queued once the row is committed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, ngettext

from lipsync.errors import (
    InputError,
    NoAudioStreamError,
    NoVideoStreamError,
    TruncatedMediaError,
    UnsupportedMediaError,
)
from lipsync.media.probe import MediaInfo, declared_duration, probe
from lipsync.media.video import truncation_tolerance
from lipsync.track import content_hash

from ..actor import Actor
from ..audit import record
from ..models import AudioTrack, AuditAction, MediaStatus, Presenter, Project, Role, Tag, Team
from ..models.base import role_at_least
from ..models.library import random_name
from ..notices import Notice, from_input_error, input_error, notice
from . import quotas, storage
from .storage import mark_media_store

log = logging.getLogger("studio.library")


def display_name(filename: str) -> str:
    """A presenter or track name from the uploaded file name: no folder, no extension."""
    base = os.path.basename(filename.replace("\\", "/"))
    stem = os.path.splitext(base)[0].strip()
    return (stem or base or "untitled")[:200]


def check_size(filename: str, size: int) -> None:
    if size <= 0:
        raise UnsupportedMediaError(filename, gettext_noop("file is empty"))
    if size > settings.MAX_UPLOAD_BYTES:
        limit = f"{settings.MAX_UPLOAD_BYTES / 1024**3:.3g}"
        raise InputError(
            filename,
            gettext_noop("file is larger than the limit of %(limit)s GiB"),
            {"limit": limit},
            gettext_noop("export a shorter or more compressed copy and upload that"),
        )


def _probe_as(path: str, filename: str) -> MediaInfo:
    """Probe ``path`` but report errors under the user's file name, not the temporary one."""
    try:
        return probe(path)
    except InputError as exc:
        raise type(exc)(filename, exc.template, exc.params, exc.advice_template) from exc


def check_complete(path: str, filename: str, info: MediaInfo, kind: str) -> None:
    """Read every packet (no decoding) of the first ``kind`` stream: a file cut off part way
    (an interrupted copy) ends well before its declared duration, or fails to demux."""
    import av

    declared = declared_duration(info, kind)
    if info.is_image or not declared:
        return
    end = 0.0
    try:
        with av.open(path) as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            stream = streams[0]
            tb = stream.time_base
            for packet in container.demux(stream):
                if packet.pts is not None and tb is not None:
                    end = max(
                        end,
                        float((packet.pts + (packet.duration or 0)) * tb)
                        - float((stream.start_time or 0) * tb),
                    )
    except av.FFmpegError as exc:
        raise TruncatedMediaError(
            filename, gettext_noop("file is damaged after %(end)s s"), {"end": f"{end:.1f}"}
        ) from exc
    if declared - end > truncation_tolerance(declared, info.fps or 0.0):
        raise TruncatedMediaError(
            filename,
            gettext_noop("file is truncated at %(end)s s (declared %(declared)s s)"),
            {"end": f"{end:.1f}", "declared": f"{declared:.1f}"},
        )


def probe_presenter(path: str, filename: str) -> MediaInfo:
    info = _probe_as(path, filename)
    if not info.has_video:
        raise NoVideoStreamError(
            filename, gettext_noop("has no video or picture (it looks like audio only)")
        )
    if info.width < 16 or info.height < 16:
        raise UnsupportedMediaError(
            filename,
            gettext_noop("picture is too small (%(size)s)"),
            {"size": f"{info.width}x{info.height}"},
            gettext_noop("use a larger picture or video of the presenter"),
        )
    check_complete(path, filename, info, "video")
    return info


def probe_audio(path: str, filename: str) -> MediaInfo:
    info = _probe_as(path, filename)
    if not info.has_audio:
        raise NoAudioStreamError(
            filename,
            gettext_noop("has no audio stream (it is a picture)")
            if info.is_image
            else gettext_noop("has no audio stream (it is a video without sound)"),
        )
    if info.duration_s <= 0.05:
        raise UnsupportedMediaError(filename, gettext_noop("audio is shorter than 0.05 s"))
    check_complete(path, filename, info, "audio")
    return info


def _store(src: str, stored_name: str, move: bool) -> str:
    mark_media_store()
    dest = Path(settings.MEDIA_ROOT) / stored_name
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        if move:
            shutil.move(src, dest)  # a rename on the same file system, else a copy
        else:
            shutil.copyfile(src, dest)
    except OSError:
        # A copy cut short (a full disk) leaves no part of the file in the library.
        dest.unlink(missing_ok=True)
        raise
    os.chmod(dest, 0o640)
    return stored_name


def _take_in(
    actor: Actor,
    path: str,
    filename: str,
    folder: str,
    probe_as: Callable[[str, str], MediaInfo],
    move: bool,
) -> tuple[MediaInfo, dict[str, Any]]:
    """Check, probe and store an upload: its info and the fields of every library row."""
    check_size(filename, os.path.getsize(path))
    info = probe_as(path, filename)
    digest = content_hash(path)
    stored = _store(path, random_name(folder, filename), move)
    return info, {
        "name": display_name(filename),
        "original_filename": filename[:255],
        "file": stored,
        "size_bytes": os.path.getsize(Path(settings.MEDIA_ROOT) / stored),
        "content_hash": digest,
        "status": MediaStatus.PROCESSING,
        "created_by": actor.user,
    }


def create_presenter(
    actor: Actor, team: Team, path: str, filename: str, *, move: bool = True
) -> Presenter:
    """Probe ``path`` and make it a Presenter of ``team``; queue its face check."""
    info, fields = _take_in(actor, path, filename, f"presenters/{team.pk}", probe_presenter, move)
    presenter = Presenter.objects.create(
        team=team,
        kind=Presenter.Kind.IMAGE if info.is_image else Presenter.Kind.VIDEO,
        duration_s=info.duration_s or None,
        width=info.width,
        height=info.height,
        fps=info.fps,
        has_audio=info.has_audio,
        **fields,
    )
    record(
        actor,
        team,
        AuditAction.UPLOADED,
        presenter,
        kind="presenter",
        filename=filename,
        size=presenter.size_bytes,
    )
    from ..jobs import enqueue_presenter_check

    enqueue_presenter_check(presenter)
    return presenter


def create_audio(
    actor: Actor,
    team: Team,
    path: str,
    filename: str,
    *,
    project: Project | None = None,
    move: bool = True,
) -> AudioTrack:
    """Probe ``path`` and make it an AudioTrack of ``team``, in ``project`` or (None) in the
    team's audio library; queue its analysis."""
    if project is not None and project.team_id != team.pk:
        raise ValueError("the project is not the team's")
    info, fields = _take_in(actor, path, filename, f"audio/{team.pk}", probe_audio, move)
    track = AudioTrack.objects.create(
        team=team,
        project=project,
        codec=info.audio_codec or "",
        duration_s=info.duration_s or None,
        sample_rate=info.sample_rate or None,
        channels=info.channels or None,
        **fields,
    )
    record(
        actor,
        team,
        AuditAction.UPLOADED,
        track,
        kind="audio",
        filename=filename,
        size=track.size_bytes,
        project=project.pk if project is not None else None,
    )
    from ..jobs import enqueue_audio_analysis

    enqueue_audio_analysis(track)
    return track


def duplicate_of(obj: Presenter | AudioTrack) -> Presenter | AudioTrack | None:
    """The oldest earlier object of the same library (the team's presenters, the project's
    audio) with the same bytes; the upload is kept (a team may want it under another name), so
    the later copy carries the warning and the original stays quiet."""
    if not obj.content_hash:
        return None
    same: Any
    if isinstance(obj, Presenter):
        same = Presenter.objects.filter(team_id=obj.team_id)
    elif obj.project_id is not None:
        same = AudioTrack.objects.filter(project_id=obj.project_id)
    else:  # the team's audio library
        same = AudioTrack.objects.filter(team_id=obj.team_id, project__isnull=True)
    twin: Presenter | AudioTrack | None = (
        same.filter(content_hash=obj.content_hash, pk__lt=obj.pk).order_by("pk").first()
    )
    return twin


def duplicate_text(twin: Presenter | AudioTrack) -> str:
    """The warning shown next to a duplicate, in the active language."""
    return gettext("This file is already in the library as %(name)s.") % {"name": twin.name}


def ingest_uploaded(uploaded: Any, create: Callable[[str], Taken]) -> Taken:
    """Hand a Django ``UploadedFile`` (multipart form) to ``create(path)``.

    Small uploads live in memory and are first written to a temporary file; whatever
    ``create`` did not move away is removed, so a refused file leaves nothing behind.
    """
    check_size(uploaded.name, uploaded.size)
    if hasattr(uploaded, "temporary_file_path"):
        return create(uploaded.temporary_file_path())
    folder = Path(settings.MEDIA_ROOT) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="form-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in uploaded.chunks():
                fh.write(chunk)
        return create(path)
    finally:
        if os.path.exists(path):
            os.unlink(path)


LibraryObject = Presenter | AudioTrack
Taken = TypeVar("Taken", Presenter, AudioTrack)


def take_form_files(
    actor: Actor,
    team: Team,
    files: list[Any],
    create: Callable[[str, str], Taken],
) -> tuple[list[Taken], list[Notice]]:
    """Take the files of a multipart form in, one by one: ``create(path, file name)`` makes the
    library object. A refused file is recorded and its reason returned; the others still go in.
    """
    created: list[Taken] = []
    errors: list[Notice] = []
    for f in files:
        name: str = f.name

        def take(path: str, name: str = name) -> Taken:
            return create(path, name)

        try:
            quotas.check_upload_disk(f.size)
            quotas.check_team_storage(team, adding=f.size)
        except quotas.QuotaExceeded as exc:
            refusal = input_error(f.name, exc.notice.template, exc.notice.params)
            errors.append(refusal)
            refused_upload(actor, team, f.name, refusal)
            continue
        try:
            created.append(ingest_uploaded(f, take))
        except InputError as exc:
            error = from_input_error(exc, f.name)
            errors.append(error)
            refused_upload(actor, team, f.name, error)
        except OSError as exc:
            if not storage.is_disk_full(exc):
                raise
            log.warning("%s: disk full while storing it: %s", f.name, exc)
            error = input_error(f.name, storage.DISK_FULL_FILE)
            errors.append(error)
            refused_upload(actor, team, f.name, error)
    return created, errors


def remove_files(*fields: Any) -> None:
    """Delete the files behind FileFields (after the row is gone)."""
    for f in fields:
        if f and f.name:
            f.storage.delete(f.name)


class InUseError(Exception):
    """The object is used by a task that is queued or running."""


#: Lookups ``(presenter or audio track) -> how many queued or running jobs still need it``.
#: The rendering app registers its render tasks (:mod:`rendering.apps`); the library never
#: imports it.
UsageLookup = Callable[[Presenter | AudioTrack], int]
_usage_lookups: list[UsageLookup] = []


def register_usage(lookup: UsageLookup) -> None:
    if lookup not in _usage_lookups:
        _usage_lookups.append(lookup)


def in_use(obj: Presenter | AudioTrack) -> int:
    """How many queued or running jobs use ``obj``."""
    return sum(lookup(obj) for lookup in _usage_lookups)


_result_lookups: list[UsageLookup] = []


def register_results(lookup: UsageLookup) -> None:
    """``lookup(obj)``: how many finished videos were made with ``obj`` (the rendering side
    registers one; deleting the presenter or audio keeps them)."""
    if lookup not in _result_lookups:
        _result_lookups.append(lookup)


def results_made_with(obj: Presenter | AudioTrack) -> int:
    """How many finished videos were made with ``obj`` (they stay when it is deleted)."""
    return sum(lookup(obj) for lookup in _result_lookups)


@transaction.atomic
def delete_presenter(actor: Actor, presenter: Presenter) -> None:
    if in_use(presenter):
        raise InUseError(presenter.name)
    record(actor, presenter.team, AuditAction.DELETED, presenter, kind="presenter")
    files = (presenter.file, presenter.thumbnail, presenter.faces_image)
    presenter.delete()
    transaction.on_commit(lambda: remove_files(*files))


@transaction.atomic
def delete_audio(actor: Actor, track: AudioTrack) -> None:
    if in_use(track):
        raise InUseError(track.name)
    record(actor, track.team, AuditAction.DELETED, track, kind="audio")
    files = (track.file, track.waveform, track.subtitles)
    track.delete()
    transaction.on_commit(lambda: remove_files(*files))


def update_presenter(actor: Actor, presenter: Presenter, name: str, tags_text: str) -> None:
    """Rename ``presenter`` and replace its tags (comma separated ``tags_text``)."""
    presenter.name = name
    presenter.save(update_fields=["name", "updated_at"])
    tags = set_tags(presenter, tags_text)
    record(actor, presenter.team, AuditAction.UPDATED, presenter, name=name, tags=tags)


def update_audio(actor: Actor, track: AudioTrack, name: str, project: Project | None) -> None:
    """Rename ``track`` and put it into ``project`` of its team (None: the team's audio
    library, where a batch of any project may use it)."""
    if project is not None and project.team_id != track.team_id:
        raise ValueError("the project is not the track's team's")
    moved = project != track.project
    track.name = name
    track.project = project
    track.save(update_fields=["name", "project", "updated_at"])
    data: dict[str, Any] = {"name": name}
    if moved:
        data["project"] = project.pk if project is not None else None
    record(actor, track.team, AuditAction.UPDATED, track, **data)


def set_archived(actor: Actor, obj: Presenter | Project, archived: bool) -> None:
    """Archive ``obj`` (hidden from pickers and lists, kept) or restore it."""
    obj.archived = archived
    obj.save(update_fields=["archived", "updated_at"])
    record(actor, obj.team, AuditAction.ARCHIVED, obj, archived=archived)


def refused_upload(actor: Actor, team: Team, filename: str, error: Notice) -> None:
    """Record a file the library refused (the person sees ``error``)."""
    record(actor, team, AuditAction.UPLOAD_REJECTED, filename=filename, reason=error.message)


def recheck_presenter(presenter: Presenter) -> None:
    """Run the face check of ``presenter`` again (after a failure, or a newer engine)."""
    from ..jobs import enqueue_presenter_check

    Presenter.objects.filter(pk=presenter.pk).update(status=MediaStatus.PROCESSING, error=None)
    enqueue_presenter_check(presenter)


def recheck_audio(track: AudioTrack) -> None:
    """Run the check of ``track`` again (after a failure: a lost run, Redis away, a newer
    analysis). A run still going is superseded: it can no longer write (studio/jobs.py)."""
    from ..jobs import enqueue_audio_analysis

    AudioTrack.objects.filter(pk=track.pk).update(status=MediaStatus.PROCESSING, error=None)
    enqueue_audio_analysis(track)


class FacePickRefused(Exception):
    """The face number is not one of the faces seen; ``notice`` says so to a person."""

    def __init__(self, notice: Notice) -> None:
        super().__init__(notice.message)
        self.notice = notice


def pick_face(actor: Actor, presenter: Presenter, number: int | None) -> None:
    """Animate the presenter's face ``number`` (1 = leftmost on the frame the check shows the
    faces on) from now on, or the automatic choice with None; prepares the presenter again in
    the background (a face track with that pick), which every later batch uses."""
    boxes = presenter.faces_seen.get("boxes") if isinstance(presenter.faces_seen, dict) else None
    boxes = boxes or []
    if number is not None and not 1 <= number <= len(boxes):
        raise FacePickRefused(
            notice(
                "face_pick",
                gettext_noop(
                    "There is no face %(number)s: the check saw %(count)s. Choose one of "
                    "the numbered faces."
                ),
                number=number,
                count=len(boxes),
            )
        )
    x = y = None
    if number is not None:
        x0, y0, x1, y1 = boxes[number - 1]
        x, y = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    if (presenter.face_pick_number, presenter.face_pick_x, presenter.face_pick_y) == (number, x, y):
        return
    Presenter.objects.filter(pk=presenter.pk).update(
        face_pick_number=number, face_pick_x=x, face_pick_y=y
    )
    presenter.face_pick_number, presenter.face_pick_x, presenter.face_pick_y = number, x, y
    record(actor, presenter.team, AuditAction.UPDATED, presenter, face=number or "auto")
    recheck_presenter(presenter)


def parse_tags(text: str) -> list[str]:
    """Tag names from comma-separated ``text``: spaces collapsed, lower case, at most 40
    characters, each once."""
    names: list[str] = []
    for raw in text.split(","):
        name = " ".join(raw.split()).lower()[:40]
        if name and name not in names:
            names.append(name)
    return names


def set_tags(presenter: Presenter, text: str) -> list[str]:
    """Replace the presenter's tags with the comma-separated names in ``text``."""
    names = parse_tags(text)
    tags = [Tag.objects.get_or_create(team_id=presenter.team_id, name=n)[0] for n in names]
    presenter.tags.set(tags)
    return names


# --- Bulk actions ---------------------------------------------------------------------------
# Each acts on rows of one team chosen by id, is refused as a whole (nothing changes) when an
# id is not one of the team's rows or the actor's role does not allow writing, and writes one
# audit row with the count and the ids.


class BulkRefused(Exception):
    """A bulk action refused as a whole; ``status`` is what a web answer says (403, 404)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class BulkOutcome:
    """How many rows the action changed, and the names of those it had to leave alone."""

    done: int
    kept: list[str] = field(default_factory=list)


def _writable(actor: Actor, team: Team) -> None:
    role = team.role_of(actor.user)
    if role is None:
        raise BulkRefused(gettext("You are not a member of this team."), 404)
    if not role_at_least(role, Role.MEMBER):
        raise BulkRefused(gettext("Your role in this team does not allow this."), 403)


def bulk_rows(actor: Actor, team: Team, qs: Any, ids: Sequence[int]) -> list[Any]:
    """The rows ``ids`` among ``qs`` (already narrowed to ``team``), all of them or refused."""
    _writable(actor, team)
    wanted = {int(i) for i in ids}
    if not wanted:
        raise BulkRefused(gettext("Choose at least one item."), 400)
    rows = list(qs.filter(pk__in=wanted))
    if len(rows) != len(wanted):
        raise BulkRefused(gettext("Some of the chosen items are not in this team."), 404)
    return rows


def team_presenters(actor: Actor, team: Team, ids: Sequence[int]) -> list[Presenter]:
    """The presenters ``ids`` of ``team`` for a bulk action of ``actor`` (see above)."""
    return bulk_rows(actor, team, Presenter.objects.filter(team=team), ids)


def tag_presenters(
    actor: Actor, team: Team, ids: Sequence[int], *, add: str = "", remove: str = ""
) -> int:
    """Add and/or remove the comma-separated tags ``add``/``remove`` on presenters ``ids``."""
    added, removed = parse_tags(add), parse_tags(remove)
    if not added and not removed:
        raise BulkRefused(gettext("Type the tag to add or remove."), 400)
    rows = team_presenters(actor, team, ids)
    pks = [p.pk for p in rows]
    through = Presenter.tags.through
    with transaction.atomic():
        if added:
            tags = [Tag.objects.get_or_create(team=team, name=n)[0] for n in added]
            through.objects.bulk_create(
                [through(presenter_id=pk, tag_id=t.pk) for pk in pks for t in tags],
                ignore_conflicts=True,
            )
        if removed:
            through.objects.filter(presenter_id__in=pks, tag__name__in=removed).delete()
        Presenter.objects.filter(pk__in=pks).update(updated_at=timezone.now())
        record(
            actor,
            team,
            AuditAction.UPDATED,
            kind="presenter",
            bulk=True,
            count=len(pks),
            ids=sorted(pks),
            added=added,
            removed=removed,
        )
    return len(pks)


def archive_presenters(actor: Actor, team: Team, ids: Sequence[int], archived: bool) -> int:
    """Archive (or restore) presenters ``ids``."""
    pks = [p.pk for p in team_presenters(actor, team, ids)]
    with transaction.atomic():
        Presenter.objects.filter(pk__in=pks).update(archived=archived, updated_at=timezone.now())
        record(
            actor,
            team,
            AuditAction.ARCHIVED,
            kind="presenter",
            bulk=True,
            count=len(pks),
            ids=sorted(pks),
            archived=archived,
        )
    return len(pks)


def deletable(rows: Sequence[LibraryObject]) -> tuple[list[Any], list[Any]]:
    """``rows`` split into those that may go now and those a queued or running job needs."""
    free: list[Any] = []
    busy: list[Any] = []
    for row in rows:
        (busy if in_use(row) else free).append(row)
    return free, busy


def delete_presenters(actor: Actor, team: Team, ids: Sequence[int]) -> BulkOutcome:
    """Delete presenters ``ids`` with their files and thumbnails; those a queued or running
    render needs are kept (named in the outcome). Finished videos stay: a result keeps the
    presenter's name and loses only its link."""
    free, busy = deletable(team_presenters(actor, team, ids))
    _delete_rows(actor, team, free, "presenter", lambda p: (p.file, p.thumbnail))
    return BulkOutcome(len(free), [p.name for p in busy])


def team_tracks(
    actor: Actor, team: Team, ids: Sequence[int], project: Project | None = None
) -> list[AudioTrack]:
    """The audio tracks ``ids`` of ``team`` (in any project or in the audio library), or of
    ``project`` only, for a bulk action of ``actor``."""
    qs = AudioTrack.objects.filter(team=team)
    if project is not None:
        qs = qs.filter(project=project)
    return bulk_rows(actor, team, qs, ids)


def delete_tracks(
    actor: Actor, team: Team, ids: Sequence[int], project: Project | None = None
) -> BulkOutcome:
    """Delete audio tracks ``ids`` of ``team`` (of ``project`` only, when given) with their
    files, waveforms and subtitles (as :func:`delete_presenters`)."""
    free, busy = deletable(team_tracks(actor, team, ids, project))
    data: dict[str, Any] = {"project": project.pk} if project is not None else {}
    _delete_rows(actor, team, free, "audio", lambda t: (t.file, t.waveform, t.subtitles), **data)
    return BulkOutcome(len(free), [t.name for t in busy])


def _delete_rows(
    actor: Actor,
    team: Team,
    rows: list[Any],
    kind: str,
    files_of: Callable[[Any], tuple[Any, ...]],
    **data: Any,
) -> None:
    if not rows:
        return
    files = [f for row in rows for f in files_of(row)]
    model = type(rows[0])
    with transaction.atomic():
        record(
            actor,
            team,
            AuditAction.DELETED,
            kind=kind,
            bulk=True,
            count=len(rows),
            ids=sorted(r.pk for r in rows),
            names=[r.name for r in rows],
            **data,
        )
        model.objects.filter(pk__in=[r.pk for r in rows]).delete()
        transaction.on_commit(lambda: remove_files(*files))


def bulk_message(action: str, outcome: int | BulkOutcome, noun: str = "presenter") -> str:
    """What a person reads after a bulk action (active language)."""
    done = outcome.done if isinstance(outcome, BulkOutcome) else outcome
    texts = {
        ("presenter", "tag"): ngettext("%(n)d presenter tagged.", "%(n)d presenters tagged.", done),
        ("presenter", "archive"): ngettext(
            "%(n)d presenter archived.", "%(n)d presenters archived.", done
        ),
        ("presenter", "restore"): ngettext(
            "%(n)d presenter restored.", "%(n)d presenters restored.", done
        ),
        ("presenter", "delete"): ngettext(
            "%(n)d presenter deleted.", "%(n)d presenters deleted.", done
        ),
        ("audio", "delete"): ngettext(
            "%(n)d audio track deleted.", "%(n)d audio tracks deleted.", done
        ),
    }
    text = texts[(noun, action)] % {"n": done}
    if isinstance(outcome, BulkOutcome) and outcome.kept:
        text += " " + gettext("Kept because a queued or running render uses them: %(names)s.") % {
            "names": ", ".join(outcome.kept)
        }
    return text


# --- subtitles of an audio track --------------------------------------------------------------
def attach_subtitles(actor: Actor, track: AudioTrack, filename: str, data: bytes) -> int:
    """Check an SRT or WebVTT file and keep it as ``track``'s subtitles (replacing any);
    returns how many cues it holds. A bad file raises
    :class:`lipsync.subtitles.SubtitleError` (its message names ``filename``, the line and
    what is wrong) and nothing is kept."""
    from django.core.files.base import ContentFile

    from lipsync.subtitles import parse_subtitles, subtitle_format

    filename = os.path.basename(filename.replace("\\", "/")).strip()[:255] or "subtitles.srt"
    cues = parse_subtitles(filename, data)
    kind = subtitle_format(data)
    old = track.subtitles.name if track.subtitles else ""
    with transaction.atomic():
        track.subtitles.save(f"subtitles.{kind}", ContentFile(data), save=False)
        track.subtitles_filename = filename
        track.subtitles_format = kind
        track.subtitles_cues = len(cues)
        track.save(
            update_fields=[
                "subtitles",
                "subtitles_filename",
                "subtitles_format",
                "subtitles_cues",
                "updated_at",
            ]
        )
        record(actor, track.team, AuditAction.UPDATED, track, subtitles=filename, cues=len(cues))
        if old:
            storage = track.subtitles.storage
            transaction.on_commit(lambda: storage.delete(old))
    return len(cues)


def remove_subtitles(actor: Actor, track: AudioTrack) -> bool:
    """Drop ``track``'s subtitles (renders made already keep theirs); False without any."""
    if not track.subtitles:
        return False
    field = track.subtitles
    name, storage = field.name or "", field.storage
    with transaction.atomic():
        AudioTrack.objects.filter(pk=track.pk).update(
            subtitles="", subtitles_filename="", subtitles_format="", subtitles_cues=None
        )
        record(actor, track.team, AuditAction.UPDATED, track, subtitles=None)
        transaction.on_commit(lambda: storage.delete(name))
    return True
