"""Serving stored media to team members only (media is never public).

Every file leaves through :func:`serve_file`, after the calling view's team check. With
``SENDFILE_X_ACCEL=1`` the view only checks and hands the file to the front web server with an
``X-Accel-Redirect`` header (nginx ``internal`` location at ``SENDFILE_URL_PREFIX`` aliasing
MEDIA_ROOT); otherwise Django streams it itself in constant memory, with HTTP Range support so
players can seek.
"""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_END = object()


def streaming_body(
    request: HttpRequest, chunks: Iterable[bytes]
) -> Iterable[bytes] | AsyncIterator[bytes]:
    """``chunks`` in the form the server streams without buffering.

    Under ASGI (daphne) Django turns a *sync* iterator into a list before sending the first
    byte, which would hold a whole 10 GB zip in memory; there each chunk is pulled in a worker
    thread instead and passed on as it comes.
    """
    if not isinstance(request, ASGIRequest):
        return chunks

    async def pull() -> AsyncIterator[bytes]:
        iterator = iter(chunks)

        def step_sync() -> object:
            return next(iterator, _END)

        step = sync_to_async(step_sync, thread_sensitive=False)
        try:
            while True:
                chunk = await step()
                if not isinstance(chunk, bytes):
                    return
                yield chunk
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                await sync_to_async(close, thread_sensitive=False)()

    return pull()


def _read_range(path: str, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def serve_file(
    request: HttpRequest,
    name: str | None,
    download_name: str = "",
    as_attachment: bool = False,
    content_type: str | None = None,
) -> HttpResponseBase:
    """Serve MEDIA_ROOT/``name`` (already permission-checked), honouring a single Range."""
    root = os.path.realpath(settings.MEDIA_ROOT)
    path = os.path.realpath(os.path.join(root, name or ""))
    if not path.startswith(root + os.sep) or not os.path.isfile(path):
        raise Http404(_("The file is missing."))
    content_type = content_type or mimetypes.guess_type(path)[0] or "application/octet-stream"
    disposition = content_disposition_header(as_attachment, download_name or os.path.basename(path))
    if settings.SENDFILE_X_ACCEL:
        handed_off = HttpResponse(content_type=content_type)
        prefix = settings.SENDFILE_URL_PREFIX
        handed_off["X-Accel-Redirect"] = prefix + quote(os.path.relpath(path, root))
        handed_off["Content-Disposition"] = disposition or ""
        return handed_off
    size = os.path.getsize(path)
    start, end = 0, size - 1
    response: HttpResponseBase
    status = 200
    header = request.headers.get("Range", "")
    match = _RANGE.match(header.strip()) if header else None
    if match and size > 0:
        first, last = match.groups()
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        elif last:
            start = max(size - int(last), 0)
        if start > end or start >= size:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        status = 206
    length = end - start + 1 if size else 0
    response = StreamingHttpResponse(
        streaming_body(request, _read_range(path, start, length)),
        status=status,
        content_type=content_type,
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = disposition or ""
    response["Cache-Control"] = "private, max-age=3600"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def serve_field(
    request: HttpRequest, field: FieldFile, download_name: str = "", as_attachment: bool = False
) -> HttpResponseBase:
    """Serve the file of a model's FileField (already permission-checked)."""
    if not field or not field.name:
        raise Http404(_("The file is missing."))
    return serve_file(request, field.name, download_name, as_attachment=as_attachment)
