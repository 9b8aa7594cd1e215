"""The team's audio: the audio library (every track, with or without a project), tracks of a
project, one track's page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from lipsync.errors import InputError
from lipsync.subtitles import MAX_SUBTITLE_BYTES

from ..forms import AudioForm
from ..listing import AUDIO_PAGE_SIZE, NO_PROJECT, AudioQuery, paginate, sorts
from ..models import AudioTrack, MediaStatus, Project, Role
from ..notices import from_input_error
from ..services import library
from .common import (
    actor,
    bulk_refused,
    can,
    chosen_ids,
    confirm_bulk_delete,
    get_scoped,
    safe_next,
    team_view,
    wants_json,
)
from .files import serve_field
from .presenters import kept_videos_text


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
def audio_list(request):
    """Every audio track of the team: upload here into the library (no project); filter by
    project, status and name, sort, pages and bulk actions as on a project's page."""
    team = request.membership.team
    tracks = AudioTrack.objects.for_user(request.user).filter(team=team).select_related("project")
    query = AudioQuery.from_params(request.GET)
    listing = paginate(
        query.apply(tracks),
        request.GET,
        sort_options=sorts(),
        page_size=AUDIO_PAGE_SIZE,
        filters=query.as_params(),
    )
    can_edit = can(request, Role.MEMBER)
    return render(
        request,
        "studio/audio_list.html",
        {
            "listing": listing,
            "tracks": listing.page.object_list,
            "audio_query": query,
            "has_audio": bool(listing.total) or tracks.exists(),
            "statuses": MediaStatus.choices,
            "library": True,
            "no_project": NO_PROJECT,
            "projects": Project.objects.for_user(request.user).filter(team=team),
            "can_edit": can_edit,
            "can_upload": can_edit,
            "max_upload_bytes": settings.MAX_UPLOAD_BYTES,
            "chunk_bytes": settings.UPLOAD_CHUNK_BYTES,
        },
    )


def _take_files(request, project: Project | None):
    """Plain multipart upload of ``files`` into ``project`` or the team's library."""
    team = project.team if project is not None else request.membership.team
    who = actor(request)
    created, refused = library.take_form_files(
        who,
        team,
        request.FILES.getlist("files"),
        lambda path, name: library.create_audio(who, team, path, name, project=project),
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
    return redirect(project if project is not None else "audio_list")


@team_view(Role.MEMBER)
@require_POST
def audio_library_upload(request):
    """Plain multipart upload into the audio library (the page's JS uses the chunked API)."""
    return _take_files(request, None)


@team_view()
@require_POST
def audio_upload(request, pk):
    """Plain multipart upload into a project (the page's JS uses the chunked API)."""
    return _take_files(request, get_scoped(request, Project, pk, min_role=Role.MEMBER))


@team_view()
def audio_detail(request, pk):
    track = get_scoped(
        request,
        AudioTrack,
        pk,
        queryset=AudioTrack.objects.select_related("project", "team"),
    )
    if wants_json(request):
        return JsonResponse(audio_json(track))
    role = track.team.role_of(request.user)
    return render(
        request,
        "studio/audio_detail.html",
        {
            "track": track,
            "project": track.project,
            "duplicate": library.duplicate_of(track),
            "can_edit": role in (Role.OWNER, Role.ADMIN, Role.MEMBER),
            "cues": _first_cues(track),
        },
    )


def _first_cues(track: AudioTrack, n: int = 3) -> list:
    """The first cues of the track's subtitles, to show what they are (empty without)."""
    from lipsync.subtitles import parse_subtitles

    if not track.subtitles:
        return []
    try:
        return parse_subtitles(track.subtitles_filename, track.subtitles.read())[:n]
    except (InputError, OSError):
        return []
    finally:
        track.subtitles.close()


@team_view()
def audio_edit(request, pk):
    track = get_scoped(request, AudioTrack, pk, min_role=Role.MEMBER)
    projects = Project.objects.for_user(request.user, min_role=Role.MEMBER).filter(team=track.team)
    form = AudioForm(
        request.POST or None,
        projects=projects,
        initial={"name": track.name, "project": track.project_id},
    )
    if request.method == "POST" and form.is_valid():
        library.update_audio(
            actor(request), track, form.cleaned_data["name"], form.cleaned_data["project"]
        )
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
            {
                "object": track,
                "cancel_url": track.get_absolute_url(),
                "removed": _("The audio file, its waveform and its subtitles are deleted."),
                "kept": kept_videos_text(library.results_made_with(track)),
            },
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
    return redirect(project if project is not None else "audio_list")


@team_view()
@require_POST
def audio_subtitles(request, pk):
    """Attach (or replace) the track's subtitles: an SRT or WebVTT file in ``subtitles``. A bad
    file is refused with which line is wrong and why; nothing is kept then."""
    track = get_scoped(request, AudioTrack, pk, min_role=Role.MEMBER)
    upload = request.FILES.get("subtitles")
    if upload is None:
        error = _("Choose an SRT or WebVTT file.")
        if wants_json(request):
            return JsonResponse({"error": error}, status=400)
        messages.error(request, error)
        return redirect(track)
    try:
        n = library.attach_subtitles(
            actor(request), track, upload.name or "", upload.read(MAX_SUBTITLE_BYTES + 1)
        )
    except InputError as exc:
        error = from_input_error(exc, upload.name).text()
        if wants_json(request):
            return JsonResponse({"error": error, "filename": upload.name}, status=422)
        messages.error(request, error)
        return redirect(track)
    text = ngettext(
        "Subtitles %(file)s attached (%(n)d cue).", "Subtitles %(file)s attached (%(n)d cues).", n
    ) % {"file": upload.name, "n": n}
    if wants_json(request):
        return JsonResponse({"cues": n, "filename": upload.name, "message": text}, status=201)
    messages.success(request, text)
    return redirect(track)


@team_view()
@require_POST
def audio_subtitles_remove(request, pk):
    track = get_scoped(request, AudioTrack, pk, min_role=Role.MEMBER)
    if library.remove_subtitles(actor(request), track):
        messages.success(request, _("Subtitles removed."))
    return redirect(track)


@team_view()
def audio_subtitles_file(request, pk):
    track = get_scoped(request, AudioTrack, pk)
    return serve_field(request, track.subtitles, track.subtitles_filename, as_attachment=True)


@team_view()
@require_POST
def audio_recheck(request, pk):
    track = get_scoped(request, AudioTrack, pk, min_role=Role.MEMBER)
    library.recheck_audio(track)
    messages.info(request, _("Audio check queued."))
    return redirect(track)


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
    return _bulk(request, project.team, project, project.audio_tracks.all())


@team_view(Role.MEMBER)
@require_POST
def audio_library_bulk(request):
    """The same on the team's audio library (tracks of any project or of none)."""
    team = request.membership.team
    tracks = AudioTrack.objects.for_user(request.user).filter(team=team)
    return _bulk(request, team, None, tracks)


def _bulk(request, team, project: Project | None, tracks):
    ids = chosen_ids(request.POST, lambda: AudioQuery.from_params(request.POST).apply(tracks))
    action = request.POST.get("action", "")
    home = project.get_absolute_url() if project is not None else reverse("audio_list")
    back = safe_next(request, home)
    who = actor(request)
    try:
        if action == "batch":
            return redirect(_batch_url(library.team_tracks(who, team, ids, project), project))
        if action != "delete":
            return HttpResponseBadRequest(_("Unknown action."))
        if request.POST.get("confirm") != "1":
            rows = library.team_tracks(who, team, ids, project)
            return confirm_bulk_delete(request, rows, back)
        outcome = library.delete_tracks(who, team, ids, project)
    except library.BulkRefused as exc:
        return bulk_refused(request, exc, back)
    (messages.warning if outcome.kept else messages.success)(
        request, library.bulk_message("delete", outcome, noun="audio")
    )
    return redirect(back)


def _batch_url(tracks: list[AudioTrack], project: Project | None) -> str:
    """The batch form with ``tracks`` chosen, in ``project`` when given, else in the one
    project among the tracks (tracks of the audio library go in any project's batch; when all
    are, the form picks the project). Tracks of several projects are refused: a batch belongs
    to one project."""
    if project is None:
        projects = {t.project_id for t in tracks if t.project_id is not None}
        if len(projects) > 1:
            raise library.BulkRefused(
                _(
                    "A batch belongs to one project: choose tracks of one project and the audio "
                    "library's own tracks, not tracks of several projects."
                ),
                400,
            )
        pk = projects.pop() if projects else None
    else:
        pk = project.pk
    params = [("project", pk)] if pk else []
    params += [("audio", t.pk) for t in sorted(tracks, key=lambda t: t.pk)]
    return f"{reverse('batch_create')}?{urlencode(params)}"
