"""JSON endpoints of the resumable upload protocol (README.md, "Upload protocol")."""

from __future__ import annotations

import json
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from lipsync.errors import InputError

from ..ids import parse_id, parse_int
from ..models import Project, Role, Upload
from ..notices import from_input_error, reason_of
from ..services import library, quotas
from ..services import uploads as service
from ..session import current_membership
from .common import actor, get_scoped, require_role


def _state(upload: Upload) -> dict:
    data = {
        "id": str(upload.id),
        "filename": upload.filename,
        "size": upload.size,
        "offset": upload.offset,
        "state": upload.state,
        "error": upload.error_text,
        "kind": upload.kind,
        "chunk_size": service.max_chunk_bytes() // 2,
    }
    if upload.state == Upload.State.FAILED:
        data["reason"] = _reason_text(upload)
    if upload.state == Upload.State.DONE and upload.result_id:
        from django.urls import reverse

        name = "presenter_detail" if upload.kind == Upload.Kind.PRESENTER else "audio_detail"
        data["result"] = {"id": upload.result_id, "url": reverse(name, args=[upload.result_id])}
    return data


def _reason_text(upload: Upload) -> str:
    """The failure reason without the file name (the page shows the name already)."""
    reason = reason_of(upload.error)
    return reason.text() if reason else ""


def _error(message: str, status: int = 400, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _own_upload(request, pk) -> Upload:
    """An upload of the requesting user, in a team where they may still upload."""
    qs = Upload.objects.for_user(request.user, min_role=Role.MEMBER).filter(user=request.user)
    return get_object_or_404(qs, pk=pk)


def json_errors(view):
    """A JSON endpoint answers JSON to the end: 404 and 403 raised inside become
    ``{"error": ...}`` instead of the HTML pages (the page's script shows ``error``)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return _error(_("This upload or project does not exist or is not yours."), 404)
        except PermissionDenied:
            return _error(_("Your role in this team does not allow this."), 403)

    return wrapper


@login_required
@require_POST
@json_errors
def create(request):
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    filename = body.get("filename")
    size = parse_int(body.get("size"))
    kind = body.get("kind", Upload.Kind.PRESENTER)
    if not isinstance(filename, str) or size is None or not isinstance(kind, str):
        return _error(_("Send JSON with the file's name, its size in bytes and its kind."))
    project = None
    project_id = None
    if kind == Upload.Kind.AUDIO and body.get("project") not in (None, ""):
        project_id = parse_id(body.get("project"))
        if project_id is None:
            return _error(_("This project does not exist or is not yours to use."))
    if project_id:
        project = get_scoped(request, Project, project_id, min_role=Role.MEMBER)
        team = project.team
    else:
        # Presenters, and audio for the team's audio library (no project).
        membership = require_role(current_membership(request), Role.MEMBER)
        team = membership.team
    try:
        upload = service.create_upload(request.user, team, kind, filename, size, project)
    except service.UploadError as exc:
        return _error(str(exc), exc.status, **exc.extra())
    except quotas.QuotaExceeded as exc:
        return _error(exc.text(), exc.status, code=exc.code)
    except InputError as exc:
        shown = from_input_error(exc, filename)
        reason = reason_of(shown)
        return _error(
            shown.text(), 413 if size > 0 else 400, reason=reason.text() if reason else ""
        )
    return JsonResponse(_state(upload), status=201)


@login_required
@require_http_methods(["GET", "PUT", "PATCH", "DELETE"])
@json_errors
def detail(request, pk):
    upload = _own_upload(request, pk)
    if request.method == "GET":
        return JsonResponse(_state(upload))
    if request.method == "DELETE":
        service.abort(upload)
        return JsonResponse({"deleted": True})
    offset = parse_int(request.headers.get("Upload-Offset", ""))
    if offset is None:
        return _error(_("Send the Upload-Offset header."), offset=upload.offset)
    length = parse_int(request.headers.get("Content-Length", ""))
    try:
        upload = service.write_chunk(upload.pk, offset, request, length)
    except service.UploadError as exc:
        return _error(str(exc), exc.status, **exc.extra())
    return JsonResponse(_state(upload))


@login_required
@json_errors
def complete(request, pk):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    upload = _own_upload(request, pk)
    try:
        # Idempotent: a repeat (the answer to the first call was lost) gets the same object.
        obj = service.finish(actor(request), upload)
    except service.UploadError as exc:
        return _error(str(exc), exc.status, **exc.extra())
    except (InputError, service.AlreadyRejected):
        upload.refresh_from_db()
        return _error(upload.error_text, 422, reason=_reason_text(upload), filename=upload.filename)
    upload.refresh_from_db()
    data = _state(upload)
    data["object"] = {
        "id": obj.pk,
        "name": obj.name,
        "status": obj.status,
        "url": obj.get_absolute_url(),
    }
    twin = library.duplicate_of(obj)
    if twin is not None:
        data["duplicate"] = {
            "id": twin.pk,
            "name": twin.name,
            "url": twin.get_absolute_url(),
            "message": library.duplicate_text(twin),
        }
    return JsonResponse(data, status=201)
