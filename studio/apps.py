from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StudioConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "studio"
    verbose_name = _("HeyGem Studio")

    def ready(self) -> None:
        from . import login_throttle, recovery, signals  # noqa: F401  (audit signal handlers)
        from .reconcile import reconcile_checks

        # Presenters and audio tracks whose check was lost (studio/recovery.py).
        recovery.register("library", reconcile_checks)
