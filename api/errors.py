"""One shape for every error the API returns, and the exception handler that makes it.

::

    {"error": {"code": "scope_required", "message": "<in the request's language>",
               "field": "audio" | null, "fields": {"audio": ["..."]} }}

``code`` is stable (clients switch on it); ``message`` follows ``Accept-Language`` (English or
Simplified Chinese); ``field`` names the request field at fault, when one is; ``fields`` lists
every field's messages for validation errors. Unexpected errors answer 500 with code
``internal_error`` and a reference to the log entry, never the exception's text.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from studio.notices import internal_error

from .exceptions import ApiError

log = logging.getLogger("api")

API_STAGE = gettext_noop("the API")


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def _first(detail: Any, codes: Any) -> tuple[str, str]:
    """The first message and code of a (nested) DRF error detail."""
    while isinstance(detail, dict | list) and detail:
        if isinstance(detail, dict):
            key = next(iter(detail))
            detail, codes = detail[key], codes[key] if isinstance(codes, dict) else codes
        else:
            detail, codes = detail[0], codes[0] if isinstance(codes, list) and codes else codes
    return str(detail), str(codes) if isinstance(codes, str) else "invalid"


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [m for v in detail.values() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for v in detail for m in _flatten(v)]
    return [str(detail)]


def handle(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's ``EXCEPTION_HANDLER``: every error in the shape above."""
    if isinstance(exc, ApiError):
        response = Response(
            error_body(exc.code, str(exc.detail), exc.field),
            status=exc.status_code,
            headers=exc.headers,
        )
        if exc.status_code == status.HTTP_429_TOO_MANY_REQUESTS and "Retry-After" in exc.headers:
            response["Retry-After"] = exc.headers["Retry-After"]
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        notice = internal_error(API_STAGE, exc, log)
        return Response(error_body("internal_error", notice.text()), status=500)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        field = None
        if isinstance(detail, dict) and detail:
            key = next(iter(detail))
            field = None if key == "non_field_errors" else str(key)
        message, code = _first(detail, exc.get_codes())
        fields = (
            {str(k): _flatten(v) for k, v in detail.items()} if isinstance(detail, dict) else {}
        )
        if field:
            message = f"{field}: {message}"
        response.data = error_body(code, message, field, fields=fields)
        return response
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, " ".join(_flatten(exc.detail)))
    return response
