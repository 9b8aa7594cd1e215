"""Websocket consumer of live batch progress: ``/ws/batches/<id>/``.

On connect it checks the session's user is a member of the batch's team (anyone else is
refused with close code 4403, the same answer as for a batch that does not exist), joins the
group ``batch-<id>`` and sends the full snapshot; then it forwards every update. A client that
reconnects, or sends ``{"type": "resync"}``, gets a fresh snapshot.

Updates are published by workers in their own language; each consumer puts the texts for
people (task errors, status labels) into its own client's language (the language cookie, else
``Accept-Language``) before sending.

Access: the consumer also joins its user's group (:func:`rendering.progress.user_group`); when
the user's membership ends or the account is deactivated, :mod:`rendering.signals` sends
``access.changed`` there and the consumer checks again at once, closing with 4403. The
periodic re-check (``recheck_s``) stays as a fallback for changes made outside Django (SQL).

Redis away: the snapshot comes from the database, so a connect still gets it; if the consumer
cannot join its groups it says so by closing with 4503 ("try again later": daphne allows only
1000 and 3000-4999) right after the snapshot, and the page polls and reconnects
(``static/js/batch.js``). A connection pool left with dead sockets by a Redis restart is
retried once before that.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from redis.exceptions import RedisError

from studio.consumers import scope_language

from . import payloads
from .models import Batch
from .progress import group_name, user_group

log = logging.getLogger("rendering.consumers")

CLOSE_FORBIDDEN = 4403
#: "Try again later": the channel layer (Redis) is not reachable (an application code: daphne
#: refuses the standard 1013).
CLOSE_TRY_AGAIN = 4503


class BatchProgressConsumer(AsyncJsonWebsocketConsumer):
    batch_id: int | None = None
    language: str = settings.LANGUAGE_CODE
    #: Seconds between re-checks of the membership while connected (the fallback: removals
    #: through Django reach the page at once, see ``access_changed``).
    recheck_s: float = 30.0

    def _groups(self) -> list[str]:
        user = self.scope.get("user")
        groups = [group_name(self.batch_id)] if self.batch_id is not None else []
        if user is not None and getattr(user, "pk", None):
            groups.append(user_group(user.pk))
        return groups

    async def _join(self) -> bool:
        """Join the batch's and the user's groups; False if the channel layer is away."""
        for attempt in (1, 2):
            try:
                for group in self._groups():
                    await self.channel_layer.group_add(group, self.channel_name)
                return True
            except (OSError, RedisError) as exc:
                log.warning("websocket of batch %s: groups not joined (%s)", self.batch_id, exc)
                if attempt == 2:
                    return False
        return False

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
        joined = await self._join()
        await self.accept()
        await self.send_json(snapshot)
        if not joined:
            await self.close(code=CLOSE_TRY_AGAIN)

    async def disconnect(self, code: int) -> None:
        for group in self._groups():
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except (OSError, RedisError) as exc:  # the group entry expires by itself
                log.info("websocket group %s not left: %s", group, exc)

    async def access_changed(self, event: dict) -> None:
        """The user's membership or account changed: check this batch again now."""
        self._checked_at = -float("inf")
        await self._still_allowed()

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
        await self.disconnect(CLOSE_FORBIDDEN)
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
