"""Projects of the current team."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..audit import record
from ..forms import ProjectForm
from ..models import AuditAction, Project, Role
from .common import archive_from_post, can, get_scoped, team_view


@team_view()
def project_list(request):
    show_archived = request.GET.get("archived") == "1"
    projects = Project.objects.for_user(request.user).filter(team=request.membership.team)
    if not show_archived:
        projects = projects.filter(archived=False)
    return render(
        request,
        "studio/project_list.html",
        {
            "projects": projects,
            "show_archived": show_archived,
            "can_edit": can(request, Role.MEMBER),
        },
    )


@team_view(Role.MEMBER)
def project_create(request):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = form.save(commit=False)
        project.team = request.membership.team
        project.created_by = request.user
        project.save()
        record(request, project.team, AuditAction.PROJECT_CREATED, project)
        messages.success(request, _("Project %(name)s created.") % {"name": project.name})
        return redirect(project)
    return render(request, "studio/project_form.html", {"form": form, "project": None})


@team_view()
def project_detail(request, pk):
    project = get_scoped(request, Project, pk)
    role = project.team.role_of(request.user)
    return render(
        request,
        "studio/project_detail.html",
        {
            "project": project,
            "tracks": project.audio_tracks.all(),
            "can_edit": role in (Role.OWNER, Role.ADMIN, Role.MEMBER),
            "max_upload_bytes": settings.MAX_UPLOAD_BYTES,
            "chunk_bytes": settings.UPLOAD_CHUNK_BYTES,
        },
    )


@team_view()
def project_edit(request, pk):
    project = get_scoped(request, Project, pk, min_role=Role.MEMBER)
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        form.save()
        record(
            request, project.team, AuditAction.PROJECT_UPDATED, project, fields=form.changed_data
        )
        messages.success(request, _("Project saved."))
        return redirect(project)
    return render(request, "studio/project_form.html", {"form": form, "project": project})


@team_view()
@require_POST
def project_archive(request, pk):
    project = get_scoped(request, Project, pk, min_role=Role.MEMBER)
    archived = archive_from_post(request, project)
    messages.success(request, _("Project archived.") if archived else _("Project restored."))
    return redirect(project)
