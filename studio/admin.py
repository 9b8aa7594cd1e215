"""Django admin of the library side (the rendering app registers its own models)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import AudioTrack, AuditEvent, Invitation, Membership, Presenter, Project, Tag, Team
from .models.audit import target_type_label


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "user__email", "team__name"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["team", "email", "role", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role", "team"]
    readonly_fields = ["token", "accepted_at", "accepted_by"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "archived", "updated_at"]
    list_filter = ["archived", "team"]
    search_fields = ["name"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "team"]
    list_filter = ["team"]


@admin.register(Presenter)
class PresenterAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "kind", "status", "face_share", "archived", "created_at"]
    list_filter = ["status", "kind", "archived", "team"]
    search_fields = ["name", "original_filename"]
    readonly_fields = ["content_hash", "warnings", "job_id", "prepared_at"]


@admin.register(AudioTrack)
class AudioTrackAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "status", "duration_s", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "original_filename"]
    readonly_fields = ["content_hash", "stats", "warnings", "job_id"]


class TargetTypeFilter(admin.SimpleListFilter):
    """Filter by the kind of target, each kind under its translated model name."""

    title = _("kind of target")
    parameter_name = "target_type"

    def lookups(self, request, model_admin):
        kinds = (
            AuditEvent.objects.exclude(target_type="")
            .order_by()
            .values_list("target_type", flat=True)
            .distinct()
        )
        return sorted(((k, target_type_label(k)) for k in kinds), key=lambda kv: str(kv[1]))

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(target_type=value) if value else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only. Column headers, filters and the kinds of
    target are shown in the reader's language."""

    list_display = [
        "created_at",
        "actor_label",
        "action",
        "team",
        "target_kind",
        "target_label",
        "ip",
    ]
    list_filter = ["action", TargetTypeFilter, "team"]
    search_fields = ["actor_label", "target_label"]

    @admin.display(description=_("kind of target"), ordering="target_type")
    def target_kind(self, obj: AuditEvent) -> str:
        return obj.target_type_label

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
