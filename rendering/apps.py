from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RenderingConfig(AppConfig):
    """Batches, render tasks, their workers and progress, and the media library."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "rendering"
    verbose_name = _("Renders")

    def ready(self) -> None:
        from studio import recovery
        from studio.services import library, quotas

        from . import notify, reconcile, signals
        from .models.assets import results_made_with, team_output_bytes
        from .services.batches import active_tasks_using

        # The library refuses to delete a file a queued or running render still needs.
        library.register_usage(active_tasks_using)
        # ... and says how many finished videos made with it stay when it is deleted.
        library.register_results(results_made_with)
        # A team's storage quota counts its render outputs too.
        quotas.register_storage(team_output_bytes)
        # A batch's owner is told when it finishes.
        notify.connect()
        # Render tasks, thumbnails and part files of lost runs (rendering/reconcile.py).
        recovery.register("renders", reconcile.recover)
        # A removed member's open progress pages are closed at once (rendering/consumers.py).
        signals.connect()
