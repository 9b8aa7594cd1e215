"""``manage.py reconcile_tasks [--loop SECONDS]``: re-queue or fail tasks of dead workers."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from rendering.reconcile import reconcile


class Command(BaseCommand):
    help = "Find render tasks whose worker died and re-queue or fail them."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--loop", type=float, default=0, help="run every SECONDS until stopped (0: once)"
        )

    def handle(self, *args, loop: float = 0, **options) -> None:
        while True:
            close_old_connections()
            report = reconcile()
            if report.requeued or report.failed or report.resubmitted:
                self.stdout.write(
                    f"re-queued {report.requeued}, failed {report.failed}, "
                    f"resubmitted {report.resubmitted}"
                )
            if not loop:
                return
            time.sleep(loop)
