"""Audio tracks of a project."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..forms import RenameForm
from ..listing import AudioQuery
from ..models import AudioTrack, Project, Role
from ..services import library
from .common import (
    actor,
    bulk_refused,
    chosen_ids,
    confirm_bulk_delete,
    get_scoped,
    safe_next,
    team_view,
    wants_json,
)
from .files import serve_field


def audio_json(t: AudioTrack) -> dict[str, object]:
    return {
        "id": t.pk,
        "name": t.name,
        "status": t.status,
        "error": t.error_text,
        "url": t.get_absolute_url(),
        "kind": "audio",
    }


@team_view()
@require_POST
def audio_upload(request, pk):
    """Plain multipart upload into a project (the page's JS uses the chunked API)."""
    project = get_scoped(request, Project, pk, min_role=Role.MEMBER)
    who = actor(request)
    created, refused = library.take_form_files(
        who,
        project.team,
        request.FILES.getlist("files"),
        lambda path, name: library.create_audio(who, project, path, name),
    )
    errors = [e.text() for e in refused]
    if not created and not errors:
        errors.append(_("Choose at least one file."))
    if wants_json(request):
        status = 201 if created and not errors else (400 if not created else 207)
        return JsonResponse(
            {"created": [audio_json(t) for t in created], "errors": errors}, status=status
        )
    for t in created:
        messages.success(request, _("%(name)s uploaded.") % {"name": t.name})
        twin = library.duplicate_of(t)
        if twin is not None:
            messages.warning(request, library.duplicate_text(twin))
    for e in errors:
        messages.error(request, e)
    return redirect(project)


@team_view()
def audio_detail(request, pk):
    track = get_scoped(
        request, AudioTrack, pk, queryset=AudioTrack.objects.select_related("project__team")
    )
    if wants_json(request):
        return JsonResponse(audio_json(track))
    role = track.project.team.role_of(request.user)
    return render(
        request,
        "studio/audio_detail.html",
        {
            "track": track,
            "project": track.project,
            "duplicate": library.duplicate_of(track),
            "can_edit": role in (Role.OWNER, Role.ADMIN, Role.MEMBER),
        },
    )


@team_view()
def audio_edit(request, pk):
    track = get_scoped(request, AudioTrack, pk, min_role=Role.MEMBER)
    form = RenameForm(request.POST or None, initial={"name": track.name})
    if request.method == "POST" and form.is_valid():
        library.rename_audio(actor(request), track, form.cleaned_data["name"])
        messages.success(request, _("Audio track saved."))
        return redirect(track)
    return render(request, "studio/audio_edit.html", {"form": form, "track": track})


@team_view()
def audio_delete(request, pk):
    track = get_scoped(request, AudioTrack, pk, min_role=Role.MEMBER)
    project = track.project
    if request.method != "POST":
        return render(
            request,
            "studio/confirm_delete.html",
            {"object": track, "cancel_url": track.get_absolute_url()},
        )
    try:
        library.delete_audio(actor(request), track)
    except library.InUseError:
        messages.error(
            request,
            _("%(name)s is used by a render that is queued or running.") % {"name": track.name},
        )
        return redirect(track)
    messages.success(request, _("Audio track %(name)s deleted.") % {"name": track.name})
    return redirect(project)


@team_view()
def audio_file(request, pk):
    track = get_scoped(request, AudioTrack, pk)
    return serve_field(
        request,
        track.file,
        track.original_filename,
        as_attachment=request.GET.get("download") == "1",
    )


@team_view()
def audio_waveform(request, pk):
    track = get_scoped(request, AudioTrack, pk)
    return serve_field(request, track.waveform)


@team_view()
@require_POST
def audio_bulk(request, pk):
    """One action on chosen audio tracks of a project: delete (asks first) or add to a batch."""
    project = get_scoped(request, Project, pk, min_role=Role.MEMBER)
    tracks = project.audio_tracks.all()
    ids = chosen_ids(request.POST, lambda: AudioQuery.from_params(request.POST).apply(tracks))
    action = request.POST.get("action", "")
    back = safe_next(request, project.get_absolute_url())
    who = actor(request)
    try:
        if action == "batch":
            library.project_tracks(who, project, ids)
            audio = "".join(f"&audio={i}" for i in ids)
            return redirect(f"{reverse('batch_create')}?project={project.pk}{audio}")
        if action != "delete":
            return HttpResponseBadRequest(_("Unknown action."))
        if request.POST.get("confirm") != "1":
            return confirm_bulk_delete(request, library.project_tracks(who, project, ids), back)
        outcome = library.delete_tracks(who, project, ids)
    except library.BulkRefused as exc:
        return bulk_refused(request, exc, back)
    (messages.warning if outcome.kept else messages.success)(
        request, library.bulk_message("delete", outcome, noun="audio")
    )
    return redirect(back)
