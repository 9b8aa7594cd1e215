"""The Channels layer: channels_redis, riding out a Redis restart.

channels_redis raises out of ``receive`` when Redis goes away, and a Redis restart leaves its
connection pool with dead sockets whose first use fails as well: the consumer then dies with
an error (a websocket connect answered 500, an open page dropped without a proper close).
:class:`ResilientRedisChannelLayer` tries again a few times with a short back-off, which
covers the dead sockets of a restart (redis-py opens new ones); if Redis stays away it ends
the consumer cleanly (:class:`channels.exceptions.StopConsumer`), and the page polls its
snapshot and reconnects with back-off until Redis is back (``static/js/batch.js``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.exceptions import StopConsumer
from channels_redis.core import RedisChannelLayer
from redis.exceptions import RedisError

log = logging.getLogger("heygem_site.channel_layer")


class ResilientRedisChannelLayer(RedisChannelLayer):
    #: Pauses before the tries after a failed receive (seconds).
    retry_pauses_s: tuple[float, ...] = (0.2, 0.5, 1.0)

    async def receive(self, channel: str) -> dict[str, Any]:
        for pause in (*self.retry_pauses_s, None):
            try:
                return await super().receive(channel)
            except (RedisError, OSError) as exc:
                if pause is None:
                    log.warning("channel layer: Redis away (%s); ending the consumer", exc)
                    raise StopConsumer from exc
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")
