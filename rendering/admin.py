"""Django admin of batches, render tasks and media assets.

Staff see timings, worker, device and errors (with the traceback), can cancel or retry, and
jump to the task's job in the RQ dashboard.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from studio.actor import Actor

from .models import Batch, MediaAsset, RenderTask
from .services import batches as service


def _rq_job_link(task: RenderTask) -> str:
    if not task.rq_job_id:
        return "-"
    from django_rq.settings import get_queues_map

    index = get_queues_map().get(task.queue_name)
    if index is None:
        return task.rq_job_id
    try:
        url = reverse("django_rq:job_detail", args=[index, task.rq_job_id])
    except NoReverseMatch:
        return task.rq_job_id
    return format_html('<a href="{}">{}</a>', url, task.rq_job_id[:12])


class RenderTaskInline(admin.TabularInline):
    model = RenderTask
    extra = 0
    can_delete = False
    show_change_link = True
    fields = (
        "presenter_name",
        "audio_name",
        "status",
        "stage",
        "percent",
        "worker_name",
        "device",
        "attempts",
        "started_at",
        "finished_at",
        "short_error",
    )
    readonly_fields = fields

    @admin.display(description=_("error"))
    def short_error(self, obj: RenderTask) -> str:
        return obj.error_text

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description=_("Cancel queued and running renders"))
def cancel_selected(modeladmin, request, queryset):
    actor = Actor.from_request(request, via="admin")
    n = 0
    for obj in queryset:
        if isinstance(obj, Batch):
            n += service.cancel_batch(actor, obj)
        else:
            n += int(service.cancel_task(actor, obj))
    modeladmin.message_user(request, _("%(n)d render(s) cancelled.") % {"n": n})


@admin.action(description=_("Retry failed and cancelled renders"))
def retry_selected(modeladmin, request, queryset):
    actor = Actor.from_request(request, via="admin")
    n = 0
    try:
        for obj in queryset:
            if isinstance(obj, Batch):
                n += service.retry_failed(actor, obj)
            else:
                n += int(service.retry_task(actor, obj))
    except service.BatchRefused as exc:
        modeladmin.message_user(request, str(exc), level=messages.ERROR)
    modeladmin.message_user(request, _("%(n)d render(s) queued again.") % {"n": n})


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "team",
        "project",
        "status",
        "task_count",
        "engine",
        "is_preview",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "is_preview", "engine", "team"]
    search_fields = ["name", "project__name", "created_by__username"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "team",
        "project",
        "created_by",
        "status",
        "finished_at",
        "created_at",
        "updated_at",
    ]
    inlines = [RenderTaskInline]
    actions = [cancel_selected, retry_selected]

    @admin.display(description=_("renders"))
    def task_count(self, obj: Batch) -> int:
        return obj.tasks.count()


@admin.register(RenderTask)
class RenderTaskAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "batch",
        "presenter_name",
        "audio_name",
        "status",
        "stage",
        "percent",
        "worker_name",
        "device",
        "attempts",
        "started_at",
        "run_seconds",
        "short_error",
    ]
    list_filter = ["status", "device", "queue_name", "batch__team"]
    search_fields = [
        "presenter_name",
        "audio_name",
        "worker_name",
        "rq_job_id",
        "error__message",
        "batch__name",
    ]
    date_hierarchy = "created_at"
    list_select_related = ["batch"]
    actions = [cancel_selected, retry_selected]
    readonly_fields = [f.name for f in RenderTask._meta.fields] + [
        "rq_job",
        "run_seconds",
        "short_error",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "batch",
                    "position",
                    "presenter",
                    "audio",
                    "presenter_name",
                    "audio_name",
                    "status",
                    "stage",
                    "percent",
                    "fps",
                    "eta_s",
                    "frames_done",
                    "frames_total",
                    "output",
                ]
            },
        ),
        (
            _("Execution"),
            {
                "fields": [
                    "rq_job",
                    "queue_name",
                    "worker_name",
                    "device",
                    "worker_model_loads",
                    "attempts",
                    "max_attempts",
                    "timeout_s",
                    "cancel_requested",
                    "queued_at",
                    "started_at",
                    "heartbeat_at",
                    "finished_at",
                    "run_seconds",
                ]
            },
        ),
        (_("Error"), {"fields": ["short_error", "traceback"]}),
    ]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("RQ job"))
    def rq_job(self, obj: RenderTask) -> str:
        return _rq_job_link(obj)

    @admin.display(description=_("seconds"))
    def run_seconds(self, obj: RenderTask):
        seconds = obj.duration_s
        return f"{seconds:.1f}" if seconds is not None else "-"

    @admin.display(description=_("error"))
    def short_error(self, obj: RenderTask) -> str:
        text = obj.error_text
        return (text[:80] + "…") if len(text) > 80 else text


@admin.register(MediaAsset)
class MediaAssetAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "team",
        "project",
        "batch",
        "size_bytes",
        "duration_s",
        "is_preview",
        "created_by",
        "created_at",
    ]
    list_filter = ["is_preview", "engine", "team"]
    search_fields = ["title", "download_name"]
    readonly_fields = ["file", "thumbnail", "task", "batch", "size_bytes", "created_by"]
