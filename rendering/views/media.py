"""The media library: browse, filter, preview, download, delete, zip.

Files are served only through these views, after the team check. With
``SENDFILE_X_ACCEL=1`` the view only checks and hands the file to the front web server with an
``X-Accel-Redirect`` header (nginx ``internal`` location at ``SENDFILE_URL_PREFIX`` aliasing
MEDIA_ROOT); otherwise Django streams it itself, with HTTP Range support so players can seek.

Zips are generated while they are sent (constant memory here, first byte at once, exact
``Content-Length``). daphne applies no back-pressure to a slow client: what the client has not
taken yet waits in daphne's send buffer. Behind nginx, keep ``proxy_buffering on`` with a
``proxy_max_temp_file_size`` large enough for the biggest zip, so nginx spools to disk instead.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Model, Q
from django.http import (
    Http404,
    HttpRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from studio.ids import parse_id, parse_ids
from studio.models import Presenter, Project, Role, Team
from studio.services.storage import free_disk_bytes, human_bytes
from studio.views.common import actor, can, get_scoped, team_view, wants_json
from studio.views.files import serve_file, streaming_body

from ..models import Batch, MediaAsset, needs_review_q, team_disk_usage
from ..services import media as service
from ..zipstream import safe_name


@team_view()
def media_file(request, pk):
    asset = get_scoped(request, MediaAsset, pk)
    return serve_file(request, asset.file.name, asset.file_name, content_type="video/mp4")


@team_view()
def media_download(request, pk):
    asset = get_scoped(request, MediaAsset, pk)
    if "Range" not in request.headers:
        service.downloaded(actor(request), asset)
    return serve_file(
        request, asset.file.name, asset.file_name, as_attachment=True, content_type="video/mp4"
    )


@team_view()
def media_thumbnail(request, pk):
    asset = get_scoped(request, MediaAsset, pk)
    if not asset.thumbnail:
        raise Http404(_("No thumbnail yet."))
    return serve_file(request, asset.thumbnail.name, content_type="image/jpeg")


# --- zip ------------------------------------------------------------------------------------
def zip_response(
    request: HttpRequest,
    assets: list[MediaAsset],
    zip_name: str,
    team: Team,
    target: Model | None = None,
) -> StreamingHttpResponse:
    """A streamed, stored zip of ``assets`` with readable unique names."""
    stream = service.zip_of(actor(request), assets, zip_name, team, target)
    if stream is None:
        raise Http404(_("There are no finished videos to download."))
    response = StreamingHttpResponse(
        streaming_body(request, iter(stream)), content_type="application/zip"
    )
    response["Content-Length"] = str(stream.size())
    response["Content-Disposition"] = content_disposition_header(True, zip_name)
    response["Cache-Control"] = "private, no-store"
    return response


@team_view()
def batch_zip(request, pk):
    batch = get_scoped(request, Batch, pk)
    assets = service.batch_outputs(batch, MediaAsset.objects.for_user(request.user))
    return zip_response(request, assets, f"{safe_name(batch.name, 'batch')}.zip", batch.team, batch)


@team_view()
def media_zip(request):
    """A zip of the chosen assets (``?id=1&id=2`` or POSTed ``id``)."""
    ids = request.POST.getlist("id") if request.method == "POST" else request.GET.getlist("id")
    ids, _bad = parse_ids(ids)
    if not ids:
        # The page's button stays disabled until a video is ticked; without the script (or
        # called directly) the answer is the library again, saying what to do.
        message = _("Tick at least one video, then download the selection.")
        if wants_json(request):
            return JsonResponse({"error": message}, status=400)
        messages.error(request, message)
        return redirect("media_library")
    team = request.membership.team
    assets = list(
        MediaAsset.objects.for_user(request.user)
        .filter(team=team, pk__in=ids)
        .order_by("created_at", "pk")
    )
    return zip_response(request, assets, _("videos") + ".zip", team)


# --- library pages --------------------------------------------------------------------------
@team_view()
def media_library(request):
    team = request.membership.team
    qs = (
        MediaAsset.objects.for_user(request.user)
        .filter(team=team)
        .select_related("project", "batch", "presenter", "created_by")
    )
    q = request.GET.get("q", "").strip()
    filters = {k: request.GET.get(k, "") for k in ("project", "batch", "presenter")}
    if q:
        qs = qs.filter(
            Q(title__icontains=q) | Q(download_name__icontains=q) | Q(batch__name__icontains=q)
        )
    for key, value in filters.items():
        if value:
            # A filter that is not an id matches nothing (as an id of no row would).
            qs = qs.filter(**{f"{key}_id": parse_id(value) or 0})
    if request.GET.get("previews") != "1":
        qs = qs.filter(is_preview=False)
    review = request.GET.get("review") == "1"
    if review:
        qs = qs.filter(needs_review_q())
    page = Paginator(qs, 24).get_page(request.GET.get("page"))
    usage = team_disk_usage(team)
    return render(
        request,
        "media/library.html",
        {
            "page": page,
            "assets": page.object_list,
            "q": q,
            "filters": filters,
            "projects": Project.objects.for_user(request.user).filter(team=team),
            "batches": Batch.objects.for_user(request.user).filter(team=team, is_preview=False)[
                :100
            ],
            "presenters": Presenter.objects.for_user(request.user).filter(team=team),
            "usage": {k: human_bytes(v) for k, v in usage.items()},
            "usage_bytes": usage,
            "free_disk": human_bytes(free_disk_bytes()),
            "can_delete": can(request, Role.MEMBER),
            "review": review,
            "review_below": settings.QUALITY_REVIEW_BELOW,
        },
    )


@team_view()
def media_detail(request, pk):
    asset = get_scoped(request, MediaAsset, pk)
    return render(
        request,
        "media/detail.html",
        {
            "asset": asset,
            "size": human_bytes(asset.size_bytes),
            "can_delete": can(request, Role.MEMBER),
        },
    )


@team_view()
@require_POST
def media_delete(request, pk):
    asset = get_scoped(request, MediaAsset, pk, min_role=Role.MEMBER)
    service.delete_asset(actor(request), asset)
    if wants_json(request):
        return JsonResponse({"deleted": pk})
    messages.success(request, _("Video deleted."))
    return redirect("media_library")
