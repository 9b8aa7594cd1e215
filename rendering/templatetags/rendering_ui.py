"""Template helpers of the render side: display names of engines, queues and devices."""

from __future__ import annotations

from django import template

from studio.models import Project

from .. import labels
from ..models import Batch

register = template.Library()

register.filter("engine_label", labels.engine_label)
register.filter("queue_label", labels.queue_label)
register.filter("device_label", labels.device_label)


#: Batches a project's page lists (the newest; a link leads to all of them).
PROJECT_BATCHES = 20


@register.inclusion_tag("batches/_project_batches.html", takes_context=True)
def project_batches(context: dict, project: Project) -> dict:
    """``{% project_batches project %}``: the project's batches (previews left out), newest
    first, for the project's page (a template of the library side; the library never imports
    the render side, its template asks through this tag)."""
    user = context["request"].user
    qs = (
        Batch.objects.for_user(user)
        .filter(project=project, is_preview=False)
        .select_related("created_by")
        .order_by("-created_at")
    )
    batches = list(qs[:PROJECT_BATCHES])
    for batch in batches:
        batch.counts_cache = batch.counts()
    total = qs.count() if len(batches) == PROJECT_BATCHES else len(batches)
    return {
        "project": project,
        "batches": batches,
        "total": total,
        "more": total > len(batches),
    }
