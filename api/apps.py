from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """The public REST API (/api/v1/), its tokens, idempotency records and webhooks."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = _("API")

    def ready(self) -> None:
        from studio import recovery

        from . import receivers, schema  # noqa: F401  (signal receivers, OpenAPI extensions)
        from .reconcile import reconcile_deliveries

        receivers.connect()
        # Deliveries whose job was lost (api/reconcile.py, studio/recovery.py).
        recovery.register("webhooks", reconcile_deliveries)
