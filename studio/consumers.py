"""Websocket of a person's notifications: ``/ws/notifications/``.

Every page of a logged-in person connects (``static/js/notifications.js``). On connect the
consumer joins the person's group and sends the unread count; then each new notification
(with its texts in the person's language: the one stored on their account, else the page's)
and each change of the count (read on another page). Nobody else's notifications ever reach
the socket: the group is the user's own.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from .models import Notification
from .services import notifications, people

CLOSE_UNAUTHENTICATED = 4401


def scope_language(scope: dict) -> str:
    """The language of the connecting client: its language cookie, else Accept-Language."""
    candidates = []
    cookie = (scope.get("cookies") or {}).get(settings.LANGUAGE_COOKIE_NAME)
    if cookie:
        candidates.append(cookie)
    headers = dict(scope.get("headers") or [])
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    candidates += [code for code, _q in parse_accept_lang_header(accept) if code != "*"]
    for code in candidates:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    user_id: int | None = None
    language: str = settings.LANGUAGE_CODE

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not getattr(user, "is_authenticated", False):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.language = await self._language(user) or scope_language(self.scope)
        await self.channel_layer.group_add(notifications.group_name(user.pk), self.channel_name)
        await self.accept()
        await self.send_json({"type": "unread", "count": await self._count()})

    async def disconnect(self, code: int) -> None:
        if self.user_id is not None:
            await self.channel_layer.group_discard(
                notifications.group_name(self.user_id), self.channel_name
            )

    async def notification_new(self, event: dict) -> None:
        payload = await self._payload(int(event["id"]))
        if payload is not None:
            await self.send_json(
                {"type": "notification", "notification": payload, "unread": await self._count()}
            )

    async def notification_read(self, event: dict) -> None:
        await self.send_json({"type": "unread", "count": await self._count()})

    @database_sync_to_async
    def _language(self, user: Any) -> str:
        return people.language_of(user)

    @database_sync_to_async
    def _count(self) -> int:
        return Notification.objects.filter(user_id=self.user_id or 0, read_at__isnull=True).count()

    @database_sync_to_async
    def _payload(self, notification_id: int) -> dict[str, Any] | None:
        row = (
            Notification.objects.filter(pk=notification_id, user_id=self.user_id or 0)
            .select_related("team")
            .first()
        )
        if row is None:
            return None
        with translation.override(self.language):
            return notifications.payload(row)
