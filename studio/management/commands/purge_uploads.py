"""Remove resumable uploads nobody finished (run it daily, e.g. from cron)."""

from django.core.management.base import BaseCommand

from studio.services.uploads import purge_stale


class Command(BaseCommand):
    help = "Delete uploads older than UPLOAD_EXPIRY_HOURS that were never completed."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--hours",
            type=float,
            default=None,
            help="age limit in hours (default: UPLOAD_EXPIRY_HOURS)",
        )

    def handle(self, *args, hours=None, **options) -> None:
        self.stdout.write(f"removed {purge_stale(hours)} stale upload(s)")
