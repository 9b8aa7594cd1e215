"""Disk space: what is free under ``MEDIA_ROOT``, sizes written for people, and what a full
disk means for people (:func:`is_disk_full`, the notices below)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ..notices import Notice, notice

#: ``errno`` values that mean "no room left": the disk (ENOSPC) or the owner's quota (EDQUOT).
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

#: Why a render failed on a full disk (no path, no errno: those stay in the worker's log).
DISK_FULL_RENDER = gettext_noop(
    "The server's disk is full, so the video could not be saved. Ask an administrator to free "
    "space (old videos can be deleted in the media library), then choose “Retry”."
)

#: The reason of a file a form upload could not store (after "<file name>: ").
DISK_FULL_FILE = gettext_noop(
    "the server's disk is full; ask an administrator to free space, then upload it again"
)


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an exception it was raised from or during, is a full disk.

    PyAV's ``av.error.OSError`` and NumPy's writes are ``OSError``s with the errno set; an
    engine thread's error arrives as the cause or context of another.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def disk_full_notice() -> Notice:
    """The reason shown on a render that hit a full disk."""
    return notice("disk_full", DISK_FULL_RENDER)


class NotEnoughSpace(Exception):
    """Free disk is below ``MIN_FREE_DISK_BYTES``; the message is for people."""


def free_disk_bytes() -> int:
    root = settings.MEDIA_ROOT
    root.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(root).free


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def check_free_disk() -> None:
    """Raise :class:`NotEnoughSpace` when new work would fill the disk."""
    minimum = settings.MIN_FREE_DISK_BYTES
    free = free_disk_bytes()
    if free < minimum:
        raise NotEnoughSpace(
            _(
                "Not enough free disk space to start a batch: %(free)s free, at least %(min)s "
                "needed. Delete old videos in the media library or ask an administrator to free "
                "space."
            )
            % {"free": human_bytes(free), "min": human_bytes(minimum)}
        )


#: A file the web host keeps at the top of ``MEDIA_ROOT``: a worker on another host finds it
#: there only when the shared media directory is mounted (README, "GPU workers on other hosts").
MEDIA_STORE_MARKER = ".heygem-media-store"


def mark_media_store() -> None:
    """Mark ``MEDIA_ROOT`` as the studio's media store (the web side: ``start_app.sh`` through
    ``manage.py ensure_media_store``, and every file the library stores)."""
    root = Path(settings.MEDIA_ROOT)
    marker = root / MEDIA_STORE_MARKER
    if marker.exists():
        return
    root.mkdir(parents=True, exist_ok=True)
    marker.write_text(
        "HeyGem Studio media store. Workers on other hosts need this directory mounted at "
        "their MEDIA_ROOT.\n"
    )


def media_store_problem() -> str | None:
    """Why this process's ``MEDIA_ROOT`` is not the studio's media store, or None.

    A worker checks this at start: on a host where the shared media directory is not
    mounted every input would look deleted and every render fail. A fresh install (no
    presenter or audio yet) has nothing to miss."""
    from ..models import AudioTrack, Presenter

    root = Path(settings.MEDIA_ROOT)
    if (root / MEDIA_STORE_MARKER).exists():
        if not os.access(root, os.W_OK):
            return f"MEDIA_ROOT {root} is not writable: renders could not store their videos"
        return None
    if not Presenter.objects.exists() and not AudioTrack.objects.exists():
        return None
    return (
        f"MEDIA_ROOT {root} is not the studio's media store (no {MEDIA_STORE_MARKER} in it): "
        "mount the web host's media directory there and point MEDIA_ROOT at it"
    )
