"""Writing the audit log: ``record(actor, team, action, target=None, **data)``."""

from __future__ import annotations

import logging
from typing import Any

from .actor import Actor
from .models import AuditEvent

log = logging.getLogger("studio.audit")


def record(actor: Actor, team: Any, action: str, target: Any = None, **data: Any) -> AuditEvent:
    """Append one audit event.

    ``target`` is any model instance: its type, id and label are copied, so the event still
    reads right after the target is deleted. ``actor.via`` is kept in ``data`` when the action
    did not come from the web pages.
    """
    if actor.via != "web":
        data.setdefault("via", actor.via)
    event = AuditEvent(
        team=team,
        actor=actor.user,
        actor_label=actor.username[:255],
        action=str(action),
        data=data,
        ip=actor.ip,
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
