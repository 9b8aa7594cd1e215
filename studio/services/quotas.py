"""Quotas: what one team may store and render at once, what one user may have uploading.

Rules (settings, 0 = no limit):

* ``TEAM_STORAGE_QUOTA_BYTES``: bytes of a team's presenters, audio tracks and render outputs,
  plus the bytes still to come of its open uploads. A new upload whose declared size would
  pass it is refused, and so is a new batch while the team is at or over it.
* ``TEAM_MAX_CONCURRENT_RENDERS``: render tasks of one team running at once; the render
  scheduler (:mod:`rendering.lifecycle`) hands a team's tasks to the workers only while it is
  below, the others wait their turn (nothing is refused).
* ``USER_MAX_OPEN_UPLOADS``: unfinished uploads of one user.
* Free disk: an upload is refused when its declared size plus the bytes still to come of every
  open upload would leave less than ``MIN_FREE_DISK_BYTES`` free under ``MEDIA_ROOT``.

The checks are services (uploads and batches call them; so must any other way in, e.g. an API):
:func:`check_upload`, :func:`check_team_storage`; :func:`team_storage` says where a team
stands (``rendering.lifecycle.render_slots`` for its renders). Refusals are
:class:`QuotaExceeded`, whose :attr:`~QuotaExceeded.notice` says which limit, how much is
used and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, Sum
from django.utils.translation import gettext_noop

from ..models import AudioTrack, Presenter, Team, Upload
from ..notices import Notice, notice
from .storage import free_disk_bytes, human_bytes


class QuotaExceeded(Exception):
    """A quota refuses the action. ``notice`` is for people; ``status`` the HTTP status an
    API answers with; ``code`` names the limit (``team_storage``, ``open_uploads``,
    ``upload_disk``)."""

    def __init__(self, note: Notice, status: int) -> None:
        super().__init__(note.message)
        self.notice = note
        self.status = status

    @property
    def code(self) -> str:
        return self.notice.code

    def text(self) -> str:
        """The message in the active language."""
        return self.notice.text()


#: Bytes a team stores outside the library (the rendering app registers its outputs in
#: :mod:`rendering.apps`; the library never imports it).
StorageSource = Callable[[Team], int]
_storage_sources: list[StorageSource] = []


def register_storage(source: StorageSource) -> None:
    if source not in _storage_sources:
        _storage_sources.append(source)


def _pending_upload_bytes(**filters: object) -> int:
    """Bytes still to come of open uploads matching ``filters``."""
    left = Upload.objects.filter(state=Upload.State.OPEN, **filters).aggregate(
        n=Sum(F("size") - F("offset"))
    )["n"]
    return max(0, int(left or 0))


@dataclass(frozen=True)
class StorageUsage:
    stored: int  #: presenters + audio + outputs
    pending: int  #: still to come of open uploads
    limit: int  #: 0 = no limit

    @property
    def used(self) -> int:
        return self.stored + self.pending

    @property
    def left(self) -> int | None:
        return None if not self.limit else max(0, self.limit - self.used)


def team_storage(team: Team) -> StorageUsage:
    presenters = Presenter.objects.filter(team=team).aggregate(n=Sum("size_bytes"))["n"] or 0
    audio = AudioTrack.objects.filter(team=team).aggregate(n=Sum("size_bytes"))["n"] or 0
    others = sum(source(team) for source in _storage_sources)
    return StorageUsage(
        stored=int(presenters + audio + others),
        pending=_pending_upload_bytes(team=team),
        limit=settings.TEAM_STORAGE_QUOTA_BYTES,
    )


_STORAGE_FULL = gettext_noop(
    "Your team has used %(used)s of its %(limit)s storage quota%(adding)s. Delete videos in "
    "the media library, or presenters and audio tracks you no longer need, or ask an "
    "administrator to raise the quota."
)
_ADDING = gettext_noop("; this file (%(size)s) does not fit")


def check_team_storage(team: Team, adding: int = 0) -> StorageUsage:
    """Refuse (:class:`QuotaExceeded`, 413) when ``adding`` more bytes would pass the team's
    storage quota; with ``adding=0``, when the team is already at or over it (new renders
    would add to it)."""
    usage = team_storage(team)
    if not usage.limit:
        return usage
    over = usage.used + adding > usage.limit if adding else usage.used >= usage.limit
    if over:
        adding_note = notice("quota_adding", _ADDING, size=human_bytes(adding)) if adding else ""
        raise QuotaExceeded(
            notice(
                "team_storage",
                _STORAGE_FULL,
                used=human_bytes(usage.used),
                limit=human_bytes(usage.limit),
                adding=adding_note,
            ),
            413,
        )
    return usage


def check_upload(user: Any, team: Team, size: int) -> None:
    """May ``user`` start an upload of ``size`` bytes into ``team``? Checks the user's open
    uploads, the free disk against everything declared, and the team's storage quota."""
    check_open_uploads(user)
    check_upload_disk(size)
    check_team_storage(team, adding=size)


def check_open_uploads(user: Any) -> None:
    """Refuse (429) a new upload of a user who has ``USER_MAX_OPEN_UPLOADS`` unfinished."""
    limit = settings.USER_MAX_OPEN_UPLOADS
    if not limit:
        return
    open_uploads = Upload.objects.filter(user=user, state=Upload.State.OPEN).count()
    if open_uploads >= limit:
        raise QuotaExceeded(
            notice(
                "open_uploads",
                gettext_noop(
                    "You have %(n)d unfinished uploads, the most one person may have at "
                    "once is %(limit)d. Let them finish, or remove the ones you do not "
                    "need from the upload list, then try again."
                ),
                n=open_uploads,
                limit=limit,
            ),
            429,
        )


def check_upload_disk(size: int) -> None:
    """Refuse (507) ``size`` more bytes when they, with the bytes still to come of every open
    upload, would leave less than ``MIN_FREE_DISK_BYTES`` free."""
    free = free_disk_bytes()
    pending = _pending_upload_bytes()
    if size <= free - pending - settings.MIN_FREE_DISK_BYTES:
        return
    raise QuotaExceeded(
        notice(
            "upload_disk",
            gettext_noop(
                "Not enough free disk space for this file (%(size)s): %(free)s are free, "
                "%(pending)s of them are promised to uploads in progress and %(reserve)s "
                "must stay free. Try again after the uploads in progress have finished, "
                "or ask an administrator to free space."
            ),
            size=human_bytes(size),
            free=human_bytes(free),
            pending=human_bytes(pending),
            reserve=human_bytes(settings.MIN_FREE_DISK_BYTES),
        ),
        507,
    )
