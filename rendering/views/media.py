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

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.db.models import Model, Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from studio.ids import parse_id, parse_ids
from studio.listing import MEDIA_PAGE_SIZE, paginate, sorts
from studio.models import Presenter, Project, Role, Team
from studio.services.library import BulkRefused
from studio.services.storage import free_disk_bytes, human_bytes
from studio.views.common import (
    BULK_NAMES_SHOWN,
    actor,
    bulk_refused,
    can,
    chosen_ids,
    get_scoped,
    safe_next,
    team_view,
    wants_json,
)
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
@dataclass(frozen=True)
class MediaQuery:
    """The media library's filters: search text, project, batch, presenter, previews, and
    "needs review" (:func:`rendering.models.needs_review_q`)."""

    q: str = ""
    project: str = ""
    batch: str = ""
    presenter: str = ""
    previews: bool = False
    review: bool = False

    @classmethod
    def from_params(cls, params) -> MediaQuery:
        def number(key: str) -> str:
            # Kept as given (so the links keep it); one that is not an id matches nothing.
            return str(params.get(key, ""))[:40]

        return cls(
            q=str(params.get("q", "")).strip()[:200],
            project=number("project"),
            batch=number("batch"),
            presenter=number("presenter"),
            previews=params.get("previews") == "1",
            review=params.get("review") == "1",
        )

    def apply(self, qs):
        if self.q:
            qs = qs.filter(
                Q(title__icontains=self.q)
                | Q(download_name__icontains=self.q)
                | Q(batch__name__icontains=self.q)
            )
        for key in ("project", "batch", "presenter"):
            if getattr(self, key):
                # A filter that is not an id matches nothing (as an id of no row would).
                qs = qs.filter(**{f"{key}_id": parse_id(getattr(self, key)) or 0})
        if self.review:
            qs = qs.filter(needs_review_q())
        return qs if self.previews else qs.filter(is_preview=False)

    def as_params(self) -> dict[str, str]:
        return {
            "q": self.q,
            "project": self.project,
            "batch": self.batch,
            "presenter": self.presenter,
            "previews": "1" if self.previews else "",
            "review": "1" if self.review else "",
        }


@team_view()
def media_library(request):
    team = request.membership.team
    visible = MediaAsset.objects.for_user(request.user).filter(team=team)
    query = MediaQuery.from_params(request.GET)
    listing = paginate(
        query.apply(visible).select_related("project", "batch", "presenter", "created_by"),
        request.GET,
        sort_options=sorts(name="title"),
        page_size=MEDIA_PAGE_SIZE,
        filters=query.as_params(),
    )
    usage = team_disk_usage(team)
    return render(
        request,
        "media/library.html",
        {
            "listing": listing,
            "page": listing.page,
            "assets": listing.page.object_list,
            "library_empty": not listing.total and not (listing.filtered and visible.exists()),
            "q": query.q,
            "filters": query.as_params(),
            "projects": Project.objects.for_user(request.user).filter(team=team),
            "batches": Batch.objects.for_user(request.user).filter(team=team, is_preview=False)[
                :100
            ],
            "presenters": Presenter.objects.for_user(request.user).filter(team=team),
            "usage": {k: human_bytes(v) for k, v in usage.items()},
            "usage_bytes": usage,
            "free_disk": human_bytes(free_disk_bytes()),
            "can_delete": can(request, Role.MEMBER),
            "review": query.review,
            # Nothing but "needs review" asked: an empty answer is good news, said as such.
            "review_only": query.review
            and not (query.q or query.project or query.batch or query.presenter),
            "review_below": settings.QUALITY_REVIEW_BELOW,
        },
    )


@team_view()
@require_POST
def media_bulk(request):
    """Chosen videos (``id``s, ``ids``, or ``scope=matching``): a zip of them, or delete
    (asks first; a member's role is needed)."""
    team = request.membership.team
    visible = MediaAsset.objects.for_user(request.user).filter(team=team)
    ids = chosen_ids(request.POST, lambda: MediaQuery.from_params(request.POST).apply(visible))
    action = request.POST.get("action", "")
    back = safe_next(request, reverse("media_library"))
    if not ids:
        # The buttons stay disabled until a video is ticked; without the script (or called
        # directly) the answer is the library again, saying what to do (as media_zip).
        if action == "delete":
            message = _("Choose at least one video.")
        else:
            message = _("Tick at least one video, then download the selection.")
        if wants_json(request):
            return JsonResponse({"error": message}, status=400)
        messages.error(request, message)
        return redirect(back)
    if action == "zip":
        assets = list(visible.filter(pk__in=ids).order_by("created_at", "pk"))
        return zip_response(request, assets, _("videos") + ".zip", team)
    if action != "delete":
        return HttpResponseBadRequest(_("Unknown action."))
    who = actor(request)
    try:
        assets = service.team_assets(who, team, ids)
        if request.POST.get("confirm") != "1":
            return render(
                request,
                "studio/bulk_delete_confirm.html",
                {
                    "count": len(assets),
                    "names": [a.title for a in assets[:BULK_NAMES_SHOWN]],
                    "more": max(0, len(assets) - BULK_NAMES_SHOWN),
                    "ids": ",".join(str(a.pk) for a in assets),
                    "action_url": request.path,
                    "next": back,
                    "kind": "video",
                },
            )
        n = service.delete_assets(who, team, ids)
    except BulkRefused as exc:
        return bulk_refused(request, exc, back)
    messages.success(
        request, ngettext("%(n)d video deleted.", "%(n)d videos deleted.", n) % {"n": n}
    )
    return redirect(back)


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
