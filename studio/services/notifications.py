"""Telling people what happened while they were away (a batch they submitted finished).

:func:`notify` stores a :class:`~studio.models.Notification` for one person and, once the
transaction commits, pushes it to the pages they have open (Channels group of the user: the
header's count, a toast, a desktop notification where they allowed one) and queues an e-mail
when the server sends e-mail (``EMAIL_*`` settings, see README). The render side calls it from
its ``batch_completed`` receiver (:mod:`rendering.notify`); the library never knows about
batches.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Retry

from .. import queues
from ..models import Notification, NotificationLevel, Team
from ..notices import Notice

log = logging.getLogger("studio.notifications")

#: Channels event types the notification consumer handles (``notification.new`` ->
#: ``notification_new``).
NEW_EVENT: Final = "notification.new"
READ_EVENT: Final = "notification.read"
#: Pauses between tries of an e-mail the mail server refused for a moment.
EMAIL_RETRY_INTERVALS_S = [30, 300, 1800]


def group_name(user_id: int) -> str:
    return f"notify-user-{user_id}"


def notify(
    user: Any,
    team: Team,
    kind: str,
    title: Notice,
    body: Notice,
    *,
    url: str = "",
    level: str = NotificationLevel.INFO,
) -> Notification:
    """Store a notification for ``user``; after the commit push it to their open pages and
    queue its e-mail (when e-mail is configured and they have an address)."""
    notification = Notification.objects.create(
        user=user, team=team, kind=kind, title=title, body=body, url=url, level=level
    )
    transaction.on_commit(lambda: _deliver(notification, user), robust=True)
    return notification


def _deliver(notification: Notification, user: Any) -> None:
    push(user.pk, {"type": NEW_EVENT, "id": notification.pk})
    address: str = getattr(user, "email", "") or ""
    if settings.EMAIL_ENABLED and address:
        queues.enqueue(
            queues.QueueName.CPU,
            "studio.jobs.email_notification",
            notification.pk,
            timeout_s=120,
            retry=Retry(max=len(EMAIL_RETRY_INTERVALS_S), interval=EMAIL_RETRY_INTERVALS_S),
            description=f"e-mail of notification {notification.pk}",
            on_unavailable=lambda exc: log.warning(
                "notification %s not e-mailed: %s", notification.pk, exc
            ),
        )


def push(user_id: int, event: dict[str, Any]) -> None:
    """Send ``event`` to every page ``user_id`` has open; a broken channel layer costs a log
    line only (the count is read again on every page load)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(user_id), event)
    except (OSError, RedisError) as exc:
        log.warning("notification for user %s not pushed: %s", user_id, exc)


def unread(user: Any) -> Any:
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True)


def unread_count(user: Any) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return int(unread(user).count())


def mark_read(user: Any, ids: list[int] | None = None, url: str | None = None) -> int:
    """Mark ``user``'s notifications read: those in ``ids``, those leading to ``url``, or
    (neither given) all. Returns how many changed; the user's open pages hear of it."""
    rows = unread(user)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    if url is not None:
        rows = rows.filter(url=url)
    changed = int(rows.update(read_at=timezone.now()))
    if changed:
        user_id = user.pk
        transaction.on_commit(lambda: push(user_id, {"type": READ_EVENT}), robust=True)
    return changed


def payload(notification: Notification) -> dict[str, Any]:
    """The JSON a page gets, texts in the active language."""
    return {
        "id": notification.pk,
        "title": notification.title_text,
        "body": notification.body_text,
        "url": notification.url,
        "level": notification.level,
        "team": notification.team.name,
        "created_at": notification.created_at.isoformat(),
        "read": notification.is_read,
    }
