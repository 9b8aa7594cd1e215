"""Writing the audit log: ``record(request_or_user, team, action, target=None, **data)``."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest

from .models import AuditEvent

log = logging.getLogger("studio.audit")


def client_ip(request: HttpRequest) -> str | None:
    """The peer address. X-Forwarded-For is ignored: it is trivially forged without a proxy."""
    return request.META.get("REMOTE_ADDR") or None


def record(request_or_user: Any, team, action: str, target: Any = None, **data: Any) -> AuditEvent:
    """Append one audit event.

    ``request_or_user`` is a request (actor and IP taken from it), a user, or ``None`` for the
    system. ``target`` is any model instance (type, id and label are copied, so the event
    still reads right after the target is deleted).
    """
    request = request_or_user if isinstance(request_or_user, HttpRequest) else None
    user = getattr(request, "user", None) if request is not None else request_or_user
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    event = AuditEvent(
        team=team,
        actor=user,
        actor_label=(user.get_username() if user is not None else data.pop("actor_label", "")),
        action=str(action),
        data=data,
        ip=client_ip(request) if request is not None else None,
    )
    if target is not None:
        event.target_type = target._meta.model_name
        event.target_id = str(target.pk)
        event.target_label = str(target)[:255]
    event.save()
    log.info(
        "%s %s %s:%s %s",
        event.actor_label or "-",
        event.action,
        event.target_type,
        event.target_id,
        event.target_label,
    )
    return event
