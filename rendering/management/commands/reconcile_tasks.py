"""``manage.py reconcile_tasks [--loop SECONDS]``: recover every kind of lost background job.

Runs every reconciler registered with :mod:`studio.recovery` (render tasks, thumbnails and
part files; presenter and audio checks; webhook deliveries). With ``--loop`` it starts by
sweeping part files of interrupted renders and keeps going through database and Redis
outages (a failed round is logged; the next one tries again).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from rendering.reconcile import sweep_part_files
from studio import recovery


class Command(BaseCommand):
    help = "Find background jobs whose worker died or whose run was lost; re-queue or fail them."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--loop", type=float, default=0, help="run every SECONDS until stopped (0: once)"
        )

    def handle(self, *args, loop: float = 0, **options) -> None:
        try:
            removed = sweep_part_files()
        except (DatabaseError, OSError) as exc:
            self.stderr.write(f"part file sweep skipped: {exc}")
            removed = 0
        if removed:
            self.stdout.write(f"removed {removed} part file(s) of interrupted renders")
        while True:
            close_old_connections()
            for name, report in recovery.run_all().items():
                changed = {action: ids for action, ids in report.items() if ids}
                if changed and set(changed) != {"dispatched"}:
                    self.stdout.write(f"{name}: {changed}")
            if not loop:
                return
            time.sleep(loop)
