"""Serving stored media to members only (media is never public)."""
from __future__ import annotations

import mimetypes
import os

from django.http import FileResponse, Http404


def serve_field(field, download_name: str = "", as_attachment: bool = False) -> FileResponse:
    if not field or not field.name or not field.storage.exists(field.name):
        raise Http404("file missing")
    path = field.path
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = FileResponse(open(path, "rb"), content_type=content_type,
                            as_attachment=as_attachment,
                            filename=download_name or os.path.basename(path))
    response["Cache-Control"] = "private, max-age=3600"
    return response
