"""Projects of the current team."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..forms import ProjectForm
from ..listing import AUDIO_PAGE_SIZE, AudioQuery, paginate, sorts
from ..models import MediaStatus, Project, Role
from ..services import library, projects
from .common import actor, can, get_scoped, team_view


@team_view()
def project_list(request):
    show_archived = request.GET.get("archived") == "1"
    rows = Project.objects.for_user(request.user).filter(team=request.membership.team)
    if not show_archived:
        rows = rows.filter(archived=False)
    return render(
        request,
        "studio/project_list.html",
        {
            "projects": rows,
            "show_archived": show_archived,
            "can_edit": can(request, Role.MEMBER),
        },
    )


@team_view(Role.MEMBER)
def project_create(request):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = projects.create_project(
            actor(request),
            request.membership.team,
            form.cleaned_data["name"],
            form.cleaned_data["description"],
        )
        messages.success(request, _("Project %(name)s created.") % {"name": project.name})
        return redirect(project)
    return render(request, "studio/project_form.html", {"form": form, "project": None})


@team_view()
def project_detail(request, pk):
    project = get_scoped(request, Project, pk)
    role = project.team.role_of(request.user)
    query = AudioQuery.from_params(request.GET)
    listing = paginate(
        query.apply(project.audio_tracks.all()),
        request.GET,
        sort_options=sorts(),
        page_size=AUDIO_PAGE_SIZE,
        filters=query.as_params(),
    )
    return render(
        request,
        "studio/project_detail.html",
        {
            "project": project,
            "listing": listing,
            "tracks": listing.page.object_list,
            "audio_query": query,
            "has_audio": bool(listing.total) or project.audio_tracks.exists(),
            "statuses": MediaStatus.choices,
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
        projects.update_project(
            actor(request), project, **{k: form.cleaned_data[k] for k in form.changed_data}
        )
        messages.success(request, _("Project saved."))
        return redirect(project)
    return render(request, "studio/project_form.html", {"form": form, "project": project})


@team_view()
@require_POST
def project_archive(request, pk):
    project = get_scoped(request, Project, pk, min_role=Role.MEMBER)
    archived = request.POST.get("archived", "1") == "1"
    library.set_archived(actor(request), project, archived)
    messages.success(request, _("Project archived.") if archived else _("Project restored."))
    return redirect(project)
