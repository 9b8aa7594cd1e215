"""``Idempotency-Key`` on creates: a repeat returns the first result instead of a second object.

* The key is per token (1 to 255 printable ASCII characters), kept ``API_IDEMPOTENCY_HOURS``
  (24 h).
* The first request with a key stores a row *before* it runs (unique per token and key, in
  its own committed transaction): a concurrent repeat cannot insert it again and answers 409
  ``idempotency_in_progress`` with ``Retry-After``; nothing is created twice.
* When the first request succeeds (2xx) its status and JSON body are kept; a repeat with the
  same method, path and body gets them back with ``Idempotent-Replayed: true``.
* A repeat with another method, path or body is refused: 422 ``idempotency_key_reused``.
* When the first request fails (4xx, 5xx, an exception) the key is released, so the client may
  send the corrected request with the same key.

The body's fingerprint: JSON canonically re-encoded (key order and spacing do not matter);
multipart forms as their fields plus each file's name, size and SHA-256 (the boundary
differs on every send); anything else as raw bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from .exceptions import ApiError
from .models import ApiToken, IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def fingerprint(request: Request) -> str:
    h = hashlib.sha256()
    h.update(f"{request.method} {request.path}\n".encode())
    content_type = request.content_type or ""
    if content_type.startswith(("multipart/", "application/x-www-form-urlencoded")):
        fields = sorted((k, v) for k in request.data for v in request.data.getlist(k))
        h.update(json.dumps(fields, default=str).encode())
        for name in sorted(request.FILES):
            for f in request.FILES.getlist(name):
                digest = hashlib.sha256()
                for chunk in f.chunks():
                    digest.update(chunk)
                f.seek(0)
                h.update(f"{name}={f.name}:{f.size}:{digest.hexdigest()}\n".encode())
    elif content_type.startswith("application/json"):
        h.update(json.dumps(request.data, sort_keys=True, cls=JSONEncoder).encode())
    else:
        h.update(request.body)
    return h.hexdigest()


def _valid_key(key: str) -> bool:
    return 0 < len(key) <= 255 and all(32 <= ord(c) < 127 for c in key)


def run(request: Request, token: ApiToken, handler: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not _valid_key(key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            _("The Idempotency-Key must be 1 to 255 printable ASCII characters."),
            field=HEADER,
        )
    fp = fingerprint(request)
    cutoff = timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    IdempotencyKey.objects.filter(token=token, key=key, created_at__lt=cutoff).delete()
    try:
        with transaction.atomic():
            row = IdempotencyKey.objects.create(
                token=token, key=key, fingerprint=fp, method=request.method, path=request.path[:255]
            )
    except IntegrityError:
        return _repeat(token, key, fp)
    try:
        response = handler()
    except BaseException:
        row.delete()
        raise
    if 200 <= response.status_code < 300 and isinstance(response, Response):
        body = json.loads(json.dumps(response.data, cls=JSONEncoder))
        IdempotencyKey.objects.filter(pk=row.pk).update(
            response_status=response.status_code, response_body=body
        )
    else:
        row.delete()
    return response


def _repeat(token: ApiToken, key: str, fp: str) -> Response:
    row = IdempotencyKey.objects.filter(token=token, key=key).first()
    if row is None:  # the first request failed and released the key meanwhile
        raise ApiError(
            409,
            "idempotency_in_progress",
            _("A request with this Idempotency-Key is being handled; try again shortly."),
            headers={"Retry-After": "1"},
        )
    if row.fingerprint != fp:
        raise ApiError(
            422,
            "idempotency_key_reused",
            _("This Idempotency-Key was used for a different request."),
            field=HEADER,
        )
    if row.response_status is None:
        raise ApiError(
            409,
            "idempotency_in_progress",
            _("A request with this Idempotency-Key is being handled; try again shortly."),
            headers={"Retry-After": "1"},
        )
    return Response(row.response_body, status=row.response_status, headers={REPLAYED: "true"})


def idempotent(method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorator of an :class:`api.framework.ApiView` method that creates something."""

    @wraps(method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        return run(request, view.token, lambda: method(view, request, *args, **kwargs))

    return wrapper


def purge(hours: float | None = None) -> int:
    """Delete records older than ``hours`` (``API_IDEMPOTENCY_HOURS``); returns how many."""
    age = settings.API_IDEMPOTENCY_HOURS if hours is None else hours
    cutoff = timezone.now() - timedelta(hours=age)
    deleted, _detail = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
