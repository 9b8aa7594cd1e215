"""Disk space: what is free under ``MEDIA_ROOT``, and sizes written for people."""

from __future__ import annotations

import shutil

from django.conf import settings
from django.utils.translation import gettext as _


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
