"""The team's presenter library."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ..forms import PresenterForm
from ..ids import parse_int
from ..listing import PRESENTER_PAGE_SIZE, PresenterQuery, paginate, sorts
from ..models import MediaStatus, Presenter, Role, Tag
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


def presenter_json(p: Presenter) -> dict[str, object]:
    return {
        "id": p.pk,
        "name": p.name,
        "status": p.status,
        "error": p.error_text,
        "url": p.get_absolute_url(),
        "kind": "presenter",
    }


def kept_videos_text(n: int) -> str:
    """What stays when a presenter or audio track is deleted: the videos made with it."""
    if not n:
        return _("No finished video was made with it.")
    return ngettext(
        "The finished video made with it stays in the media library, and so do the batches "
        "that used it.",
        "The %(n)d finished videos made with it stay in the media library, and so do the "
        "batches that used it.",
        n,
    ) % {"n": n}


@team_view()
def presenter_list(request):
    team = request.membership.team
    visible = Presenter.objects.for_user(request.user).filter(team=team)
    query = PresenterQuery.from_params(request.GET)
    listing = paginate(
        query.apply(visible).prefetch_related("tags"),
        request.GET,
        sort_options=sorts(),
        page_size=PRESENTER_PAGE_SIZE,
        filters=query.as_params(),
    )
    # "Nothing matches" and "nothing here yet" are different pages.
    library_empty = not listing.total and not (listing.filtered and visible.exists())
    return render(
        request,
        "studio/presenter_list.html",
        {
            "listing": listing,
            "page": listing.page,
            "presenters": listing.page.object_list,
            "library_empty": library_empty,
            "q": query.q,
            "tag": query.tag,
            "status": query.status,
            "archived": query.archived,
            "statuses": MediaStatus.choices,
            "tags": Tag.objects.for_user(request.user).filter(team=team),
            "can_upload": can(request, Role.MEMBER),
            "can_edit": can(request, Role.MEMBER),
            "max_upload_bytes": settings.MAX_UPLOAD_BYTES,
            "chunk_bytes": settings.UPLOAD_CHUNK_BYTES,
        },
    )


@team_view(Role.MEMBER)
@require_POST
def presenter_bulk(request):
    """One action on the chosen presenters (``id``s, ``ids`` comma separated, or
    ``scope=matching``: every presenter the posted filters match)."""
    team = request.membership.team
    visible = Presenter.objects.for_user(request.user).filter(team=team)
    ids = chosen_ids(request.POST, lambda: PresenterQuery.from_params(request.POST).apply(visible))
    action = request.POST.get("action", "")
    back = safe_next(request, reverse("presenter_list"))
    who = actor(request)
    try:
        if action == "batch":
            library.team_presenters(who, team, ids)
            return redirect(f"{reverse('batch_create')}?presenters={','.join(map(str, ids))}")
        if action in ("tag", "untag"):
            text = request.POST.get("tags", "")
            n = library.tag_presenters(
                who, team, ids, **({"add": text} if action == "tag" else {"remove": text})
            )
            messages.success(request, library.bulk_message("tag", n))
        elif action in ("archive", "restore"):
            n = library.archive_presenters(who, team, ids, archived=action == "archive")
            messages.success(request, library.bulk_message(action, n))
        elif action == "delete":
            if request.POST.get("confirm") != "1":
                return confirm_bulk_delete(request, library.team_presenters(who, team, ids), back)
            outcome = library.delete_presenters(who, team, ids)
            (messages.warning if outcome.kept else messages.success)(
                request, library.bulk_message("delete", outcome)
            )
        else:
            return HttpResponseBadRequest(_("Unknown action."))
    except library.BulkRefused as exc:
        return bulk_refused(request, exc, back)
    return redirect(back)


@team_view(Role.MEMBER)
@require_POST
def presenter_upload(request):
    """Plain multipart upload of one or more files (the page's JS uses the chunked API)."""
    team = request.membership.team
    who = actor(request)
    created, refused = library.take_form_files(
        who,
        team,
        request.FILES.getlist("files"),
        lambda path, name: library.create_presenter(who, team, path, name),
    )
    errors = [e.text() for e in refused]
    if not created and not errors:
        errors.append(_("Choose at least one file."))
    if wants_json(request):
        return JsonResponse(
            {"created": [presenter_json(p) for p in created], "errors": errors},
            status=201 if created and not errors else (400 if errors and not created else 207),
        )
    for p in created:
        messages.success(request, _("%(name)s uploaded; checking the face ...") % {"name": p.name})
        twin = library.duplicate_of(p)
        if twin is not None:
            messages.warning(request, library.duplicate_text(twin))
    for e in errors:
        messages.error(request, e)
    return redirect("presenter_list")


@team_view()
def presenter_detail(request, pk):
    presenter = get_scoped(request, Presenter, pk)
    if wants_json(request):
        return JsonResponse(presenter_json(presenter))
    role = presenter.team.role_of(request.user)
    return render(
        request,
        "studio/presenter_detail.html",
        {
            "presenter": presenter,
            "tags": presenter.tags.all(),
            "can_edit": role in (Role.OWNER, Role.ADMIN, Role.MEMBER),
            "in_use": library.in_use(presenter),
            "duplicate": library.duplicate_of(presenter),
            "people": max(
                int(presenter.faces_seen.get("people") or 0),
                len(presenter.faces_seen.get("boxes") or []),
            )
            if isinstance(presenter.faces_seen, dict)
            else 0,
        },
    )


@team_view()
def presenter_edit(request, pk):
    presenter = get_scoped(request, Presenter, pk, min_role=Role.MEMBER)
    form = PresenterForm(request.POST or None, instance=presenter)
    if request.method == "POST" and form.is_valid():
        library.update_presenter(
            actor(request), presenter, form.cleaned_data["name"], form.cleaned_data["tags_text"]
        )
        messages.success(request, _("Presenter saved."))
        return redirect(presenter)
    return render(request, "studio/presenter_edit.html", {"form": form, "presenter": presenter})


@team_view()
@require_POST
def presenter_archive(request, pk):
    presenter = get_scoped(request, Presenter, pk, min_role=Role.MEMBER)
    archived = request.POST.get("archived", "1") == "1"
    library.set_archived(actor(request), presenter, archived)
    messages.success(request, _("Presenter archived.") if archived else _("Presenter restored."))
    return redirect(presenter)


@team_view()
def presenter_delete(request, pk):
    presenter = get_scoped(request, Presenter, pk, min_role=Role.MEMBER)
    if request.method != "POST":
        return render(
            request,
            "studio/confirm_delete.html",
            {
                "object": presenter,
                "cancel_url": presenter.get_absolute_url(),
                "removed": _("Its video or photo and its thumbnail are deleted from the server."),
                "kept": kept_videos_text(library.results_made_with(presenter)),
            },
        )
    try:
        library.delete_presenter(actor(request), presenter)
    except library.InUseError:
        messages.error(
            request,
            _(
                "%(name)s is used by a render that is queued or running; "
                "cancel it or wait until it ends."
            )
            % {"name": presenter.name},
        )
        return redirect(presenter)
    messages.success(request, _("Presenter %(name)s deleted.") % {"name": presenter.name})
    return redirect("presenter_list")


@team_view()
@require_POST
def presenter_recheck(request, pk):
    presenter = get_scoped(request, Presenter, pk, min_role=Role.MEMBER)
    library.recheck_presenter(presenter)
    messages.info(request, _("Face check queued."))
    return redirect(presenter)


@team_view()
@require_POST
def presenter_pick_face(request, pk):
    """Choose the face to animate (``face``: its number, or ``auto``)."""
    presenter = get_scoped(request, Presenter, pk, min_role=Role.MEMBER)
    raw = request.POST.get("face", "").strip()
    # Not a face number ("x", "²", "-1"): 0, which pick_face refuses with its message.
    number = None if raw in ("", "auto") else (parse_int(raw) or 0)
    try:
        library.pick_face(actor(request), presenter, number)
    except library.FacePickRefused as exc:
        messages.error(request, exc.notice.text())
        return redirect(presenter)
    if number is None:
        messages.success(
            request,
            _("The face is chosen automatically again; the presenter is being prepared."),
        )
    else:
        messages.success(
            request,
            _("Face %(n)s will be animated; the presenter is being prepared with it.")
            % {"n": number},
        )
    return redirect(presenter)


@team_view()
def presenter_faces_image(request, pk):
    presenter = get_scoped(request, Presenter, pk)
    return serve_field(request, presenter.faces_image)


@team_view()
def presenter_file(request, pk):
    presenter = get_scoped(request, Presenter, pk)
    return serve_field(
        request,
        presenter.file,
        presenter.original_filename,
        as_attachment=request.GET.get("download") == "1",
    )


@team_view()
def presenter_thumbnail(request, pk):
    presenter = get_scoped(request, Presenter, pk)
    return serve_field(request, presenter.thumbnail)
