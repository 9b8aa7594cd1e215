"""Mark MEDIA_ROOT as the studio's media store (start_app.sh runs it on the web host).

Workers on other hosts refuse to start where the marker is missing, i.e. where the shared
media directory is not mounted (README, "GPU workers on other hosts").
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from studio.services.storage import MEDIA_STORE_MARKER, mark_media_store


class Command(BaseCommand):
    help = "Create MEDIA_ROOT and its media-store marker if missing."

    def handle(self, *args, **options) -> None:
        mark_media_store()
        self.stdout.write(f"media store: {settings.MEDIA_ROOT} ({MEDIA_STORE_MARKER})")
