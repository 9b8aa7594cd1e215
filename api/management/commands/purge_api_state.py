"""``manage.py purge_api_state [--days 30]``: drop idempotency records older than
``API_IDEMPOTENCY_HOURS`` and webhook deliveries that ended more than ``--days`` ago (run it
daily, e.g. from cron, next to ``purge_uploads``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from api import idempotency
from api.models import WebhookDelivery


class Command(BaseCommand):
    help = "Remove old idempotency records and finished webhook deliveries."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=float, default=30.0, help="keep deliveries this long")

    def handle(self, *args: Any, **options: Any) -> None:
        keys = idempotency.purge()
        cutoff = timezone.now() - timedelta(days=options["days"])
        deliveries, _detail = WebhookDelivery.objects.filter(finished_at__lt=cutoff).delete()
        self.stdout.write(f"removed {keys} idempotency records, {deliveries} webhook deliveries")
