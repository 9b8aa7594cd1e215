"""The resumable upload protocol (documented in README.md, "Upload protocol").

An upload is created with its file name, size and kind; chunks are written at the offset the
server reports; after the last byte ``finish`` probes the file and creates the Presenter or
AudioTrack. A client that lost its connection asks for the upload and continues at the
server's offset.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import IO

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from lipsync.errors import InputError

from ..actor import Actor
from ..audit import record
from ..models import AudioTrack, AuditAction, Presenter, Project, Team, Upload
from ..notices import Notice, from_input_error
from . import library, quotas
from .storage import human_bytes, is_disk_full

log = logging.getLogger("studio.uploads")

_COPY = 1 << 20


class UploadError(Exception):
    """A protocol error (wrong offset, too many bytes ...) or a full disk, with its message in
    the active language. ``status`` is the HTTP status, ``offset`` the server's offset where the
    client should go on, ``code`` a stable name for clients (``disk_full``) or ""."""

    def __init__(
        self, message: str, status: int = 400, offset: int | None = None, code: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.offset = offset
        self.code = code

    def extra(self) -> dict[str, object]:
        """The fields of the JSON answer besides ``error``."""
        out: dict[str, object] = {}
        if self.offset is not None:
            out["offset"] = self.offset
        if self.code:
            out["code"] = self.code
        return out


def _disk_full(upload: Upload) -> UploadError:
    """507 with where the upload stands; the client may go on from there once there is room."""
    return UploadError(
        _(
            "The server's disk is full: the upload stopped at %(done)s of %(size)s and nothing "
            "past that was kept. Ask an administrator to free space, then try again: the upload "
            "goes on where it stopped."
        )
        % {"done": human_bytes(upload.offset), "size": human_bytes(upload.size)},
        status=507,
        offset=upload.offset,
        code="disk_full",
    )


def _ended(upload: Upload) -> str:
    return _("This upload has ended (%(state)s); start it again.") % {
        "state": upload.get_state_display()
    }


def max_chunk_bytes() -> int:
    return 2 * settings.UPLOAD_CHUNK_BYTES


def create_upload(
    user, team: Team, kind: str, filename: str, size: int, project: Project | None = None
) -> Upload:
    """Open an upload. Refused with :class:`UploadError` (protocol), ``InputError`` (size) or
    :class:`~studio.services.quotas.QuotaExceeded` (a quota; its notice says which)."""
    filename = os.path.basename(str(filename).replace("\\", "/")).strip()[:255]
    if not filename:
        raise UploadError(_("The file has no name. Choose the file again."))
    if kind not in Upload.Kind.values:
        raise UploadError(
            _("Unknown kind of upload “%(kind)s”: use presenter or audio.") % {"kind": kind[:40]}
        )
    if project is not None and project.team_id != team.pk:
        raise UploadError(
            _("This project is not in your team. Choose one of your team's projects.")
        )
    library.check_size(filename, size)
    # Raises QuotaExceeded (open uploads, free disk, the team's storage quota).
    quotas.check_upload(user, team, size)
    upload = Upload.objects.create(
        team=team, project=project, user=user, kind=kind, filename=filename, size=size
    )
    try:
        os.makedirs(os.path.dirname(upload.part_path), exist_ok=True)
        with open(upload.part_path, "wb"):
            pass
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        log.warning("upload %s: disk full when opening it: %s", upload.pk, exc)
        discard_part(upload)
        upload.delete()
        raise UploadError(
            _(
                "The server's disk is full. Ask an administrator to free space, then upload "
                "the file again."
            ),
            status=507,
            code="disk_full",
        ) from exc
    return upload


def write_chunk(upload_id, offset: int, stream: IO[bytes], length: int | None) -> Upload:
    """Append the bytes of ``stream`` at ``offset``; the offset must equal the server's."""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload_id)
        if upload.state != Upload.State.OPEN:
            raise UploadError(_ended(upload), status=409, offset=upload.offset)
        if offset != upload.offset:
            raise UploadError(
                _("The server has %(offset)d bytes of this upload, not %(sent)d: go on from there.")
                % {"offset": upload.offset, "sent": offset},
                status=409,
                offset=upload.offset,
            )
        if length is not None and length > max_chunk_bytes():
            raise UploadError(
                _("A chunk may have at most %(n)d bytes.") % {"n": max_chunk_bytes()},
                status=413,
                offset=upload.offset,
            )
        room = min(upload.size - upload.offset, max_chunk_bytes())
        written = 0
        try:
            with open(upload.part_path, "r+b") as fh:
                fh.seek(upload.offset)
                while True:
                    piece = stream.read(min(_COPY, room - written + 1))
                    if not piece:
                        break
                    written += len(piece)
                    if written > room:
                        fh.truncate(upload.offset)
                        raise UploadError(
                            _(
                                "More bytes than the upload's size or the chunk limit; nothing "
                                "of this chunk was kept."
                            ),
                            status=413,
                            offset=upload.offset,
                        )
                    fh.write(piece)
                fh.truncate(upload.offset + written)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            # Nothing of this chunk is kept: the file ends at the recorded offset again, so
            # the client goes on from there once there is room.
            os.truncate(upload.part_path, upload.offset)
            log.warning(
                "upload %s: disk full after %d of %d bytes: %s",
                upload.pk,
                upload.offset,
                upload.size,
                exc,
            )
            raise _disk_full(upload) from exc
        upload.offset += written
        upload.save(update_fields=["offset", "updated_at"])
        return upload


class AlreadyRejected(Exception):
    """``complete`` of an upload whose file was refused before: ``upload.error`` says why."""

    def __init__(self, upload: Upload) -> None:
        super().__init__(upload.error_message)
        self.upload = upload


def finish(actor: Actor, upload: Upload) -> Presenter | AudioTrack:
    """Probe the complete file and create the library object; on bad input keep nothing.

    Idempotent: a client whose connection dropped while the server was finishing calls it
    again; it then gets the object the first call made (or, for a refused file,
    :class:`AlreadyRejected`), never a second copy. The upload row is locked meanwhile, so a
    repeat that arrives while the first call still probes waits for it.
    """
    refused: InputError | None = None
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload.pk)
        if upload.state == Upload.State.DONE:
            done = _result_of(upload)
            if done is None:
                raise UploadError(
                    _("The uploaded file has been deleted since. Upload it again."), status=410
                )
            return done
        if upload.state == Upload.State.FAILED:
            raise AlreadyRejected(upload)
        if upload.offset != upload.size:
            raise UploadError(
                _("The server has %(offset)d of the %(size)d bytes of this upload: send the rest.")
                % {"offset": upload.offset, "size": upload.size},
                status=409,
                offset=upload.offset,
            )
        path = upload.part_path
        try:
            with transaction.atomic():
                if upload.kind == Upload.Kind.PRESENTER:
                    obj: Presenter | AudioTrack = library.create_presenter(
                        actor, upload.team, path, upload.filename
                    )
                else:
                    obj = library.create_audio(
                        actor, upload.team, path, upload.filename, project=upload.project
                    )
                upload.state = Upload.State.DONE
                upload.result_id = obj.pk
                upload.save(update_fields=["state", "result_id", "updated_at"])
        except InputError as exc:
            # Marked failed while the row is still locked: a repeat sees the refusal.
            refused = exc
            reject(actor, upload, from_input_error(exc, upload.filename))
    if refused is not None:
        raise refused
    return obj


def _result_of(upload: Upload) -> Presenter | AudioTrack | None:
    model = Presenter if upload.kind == Upload.Kind.PRESENTER else AudioTrack
    return model.objects.filter(pk=upload.result_id).first()


def reject(actor: Actor, upload: Upload, error: Notice) -> None:
    """Mark the upload failed with ``error`` and drop its bytes."""
    discard_part(upload)
    upload.state = Upload.State.FAILED
    upload.error = error
    upload.save(update_fields=["state", "error", "updated_at"])
    record(
        actor,
        upload.team,
        AuditAction.UPLOAD_REJECTED,
        upload,
        kind=upload.kind,
        filename=upload.filename,
        reason=error.message,
    )


def discard_part(upload: Upload) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(upload.part_path)


def abort(upload: Upload) -> None:
    discard_part(upload)
    upload.delete()


def purge_stale(older_than_hours: float | None = None) -> int:
    """Delete uploads not finished within ``UPLOAD_EXPIRY_HOURS`` (and their partial bytes),
    and finished/failed upload records of the same age. Returns how many were removed."""
    from datetime import timedelta

    from django.utils import timezone

    hours = settings.UPLOAD_EXPIRY_HOURS if older_than_hours is None else older_than_hours
    cutoff = timezone.now() - timedelta(hours=hours)
    removed = 0
    for upload in Upload.objects.filter(updated_at__lt=cutoff):
        abort(upload)
        removed += 1
    return removed
