"""``manage.py cleanup_media --older-than 30d``: delete old render outputs and stray files.

Deletes media assets (rows, videos, thumbnails) created before the cut-off, and files under
``MEDIA_ROOT/outputs/`` that no asset refers to (left by crashed renders) and are older than
the cut-off. Every deleted asset is written to the audit log. ``--dry-run`` only lists.
"""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from rendering.models import MediaAsset
from studio.actor import Actor
from studio.audit import record
from studio.models import AuditAction
from studio.services.storage import human_bytes

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw]?)$")
_UNIT_S = {"": 86400, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` (a bare number means days)."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise CommandError(f"--older-than: cannot read {text!r}; use e.g. 30d, 12h, 90m")
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


class Command(BaseCommand):
    help = "Delete render outputs older than a given age, and unreferenced output files."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", required=True, help="age, e.g. 30d, 12h, 90m")
        parser.add_argument("--team", help="only this team (slug)")
        parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")

    def handle(self, *args, older_than: str, team=None, dry_run=False, **options) -> None:
        cutoff = timezone.now() - parse_age(older_than)
        assets = MediaAsset.objects.filter(created_at__lt=cutoff).select_related("team")
        if team:
            assets = assets.filter(team__slug=team)
        n, freed = 0, 0
        for asset in assets.iterator():
            n += 1
            freed += asset.size_bytes
            self.stdout.write(
                f"{'would delete' if dry_run else 'deleting'} asset {asset.pk} "
                f"{asset.file.name} ({human_bytes(asset.size_bytes)})"
            )
            if not dry_run:
                record(
                    Actor.system("cleanup_media"),
                    asset.team,
                    AuditAction.DELETED,
                    asset,
                    file=asset.download_name,
                    size=asset.size_bytes,
                    reason="age",
                )
                asset.delete_files()
                asset.delete()
        stray, stray_bytes = (0, 0) if team else self._stray_files(cutoff, dry_run)
        verb = "would free" if dry_run else "freed"
        self.stdout.write(
            self.style.SUCCESS(
                f"{n} asset(s) and {stray} stray file(s): {verb} {human_bytes(freed + stray_bytes)}"
            )
        )

    def _stray_files(self, cutoff, dry_run: bool) -> tuple[int, int]:
        root = os.path.join(settings.MEDIA_ROOT, "outputs")
        if not os.path.isdir(root):
            return 0, 0
        known = set()
        for name, thumb in MediaAsset.objects.values_list("file", "thumbnail"):
            known.add(os.path.normpath(os.path.join(settings.MEDIA_ROOT, name)))
            if thumb:
                known.add(os.path.normpath(os.path.join(settings.MEDIA_ROOT, thumb)))
        limit = cutoff.timestamp()
        count, size = 0, 0
        for folder, _dirs, files in os.walk(root):
            for filename in files:
                path = os.path.normpath(os.path.join(folder, filename))
                if path in known:
                    continue
                st = os.stat(path)
                if st.st_mtime >= limit or st.st_mtime > time.time() - 3600:
                    continue  # young files may belong to a render in progress
                count += 1
                size += st.st_size
                self.stdout.write(f"{'would remove' if dry_run else 'removing'} stray {path}")
                if not dry_run:
                    os.remove(path)
        return count, size
