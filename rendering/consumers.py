"""Websocket consumer of live batch progress: ``/ws/batches/<id>/``.

On connect it checks the session's user is a member of the batch's team (anyone else is
refused with close code 4403, the same answer as for a batch that does not exist), joins the
group ``batch-<id>`` and sends the full snapshot; then it forwards every update. A client that
reconnects, or sends ``{"type": "resync"}``, gets a fresh snapshot.

Updates are published by workers in their own language; each consumer puts the texts for
people (task errors, status labels) into its own client's language (the language cookie, else
``Accept-Language``) before sending.
"""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation

from studio.consumers import scope_language

from . import payloads
from .models import Batch
from .progress import group_name

CLOSE_FORBIDDEN = 4403


class BatchProgressConsumer(AsyncJsonWebsocketConsumer):
    batch_id: int | None = None
    language: str = settings.LANGUAGE_CODE
    #: Seconds between re-checks of the membership while connected (a removed member stops
    #: getting updates within this time).
    recheck_s: float = 30.0

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.language = scope_language(self.scope)
        batch_id = int(self.scope["url_route"]["kwargs"]["batch_id"])
        snapshot = await self._snapshot(user, batch_id)
        if snapshot is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.batch_id = batch_id
        self._checked_at = time.monotonic()
        await self.channel_layer.group_add(group_name(batch_id), self.channel_name)
        await self.accept()
        await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        if self.batch_id is not None:
            await self.channel_layer.group_discard(group_name(self.batch_id), self.channel_name)

    async def receive_json(self, content: Any, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "resync":
            snapshot = await self._snapshot(self.scope.get("user"), self.batch_id)
            if snapshot is None:
                await self.close(code=CLOSE_FORBIDDEN)
                return
            await self.send_json(snapshot)

    async def task_update(self, event: dict) -> None:
        if await self._still_allowed():
            with translation.override(self.language):
                task = payloads.localise_task(event["task"], event.get("error_notice"))
                batch = payloads.localise_summary(event["batch"])
            await self.send_json({"type": "task", "task": task, "batch": batch})

    async def batch_update(self, event: dict) -> None:
        if await self._still_allowed():
            with translation.override(self.language):
                snapshot = payloads.localise_snapshot(
                    event["snapshot"], event.get("error_notices", {})
                )
            await self.send_json(snapshot)

    async def _still_allowed(self) -> bool:
        if time.monotonic() - self._checked_at < self.recheck_s:
            return True
        self._checked_at = time.monotonic()
        if self.batch_id is None or await self._can_see(self.scope.get("user"), self.batch_id):
            return True
        await self.channel_layer.group_discard(group_name(self.batch_id), self.channel_name)
        self.batch_id = None
        await self.close(code=CLOSE_FORBIDDEN)
        return False

    @database_sync_to_async
    def _can_see(self, user, batch_id: int | None) -> bool:
        if user is not None and getattr(user, "pk", None):
            user.refresh_from_db(fields=["is_active"])
        return Batch.objects.for_user(user).filter(pk=batch_id).exists()

    @database_sync_to_async
    def _snapshot(self, user: Any, batch_id: int | None) -> payloads.SnapshotMessage | None:
        if batch_id is None:
            return None
        batch = Batch.objects.for_user(user).filter(pk=batch_id).first()
        if batch is None:
            return None
        with translation.override(self.language):
            return payloads.snapshot(batch)
