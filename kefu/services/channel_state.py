"""What the channels (kefu.channels) keep in the store, reached off the event loop.

Duplicate platform deliveries are recognised by message id, customers are linked to their
kefu conversation, and pulling channels keep their cursor — all durable, so a restart or a
second replica behaves the same.
"""

from __future__ import annotations

import time
from datetime import timedelta

from anyio import to_thread

from kefu.core.channel_records import ChannelLink
from kefu.core.ids import utcnow
from kefu.store import Store

__all__ = ["ChannelLink", "ChannelState"]

# Platforms redeliver within hours (WeCom's sync_msg reaches three days back): message ids
# older than this cannot come again and are dropped, at most once an hour.
KEEP_DELIVERIES = timedelta(days=7)
PRUNE_EVERY_S = 3600.0


class ChannelState:
    """One per process; every method runs its SQL in a worker thread."""

    def __init__(self, store: Store) -> None:
        self._channels = store.channels
        self._pruned_at = 0.0

    async def first_delivery(self, app_id: str, channel: str, message_id: str) -> bool:
        """True the first time ``message_id`` arrives on the channel; False for a repeat."""
        if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
            self._pruned_at = time.monotonic()
            await to_thread.run_sync(
                self._channels.forget_deliveries_before, utcnow() - KEEP_DELIVERIES
            )
        return await to_thread.run_sync(self._channels.first_delivery, app_id, channel, message_id)

    async def forget_delivery(self, app_id: str, channel: str, message_id: str) -> None:
        """The message could not be handled: a redelivery of it is not a duplicate."""
        await to_thread.run_sync(self._channels.forget_delivery, app_id, channel, message_id)

    async def link(self, link: ChannelLink) -> None:
        await to_thread.run_sync(self._channels.link, link)

    async def by_peer(self, app_id: str, channel: str, peer: str) -> ChannelLink | None:
        return await to_thread.run_sync(self._channels.by_peer, app_id, channel, peer)

    async def by_conversation(self, conversation_id: str) -> ChannelLink | None:
        return await to_thread.run_sync(self._channels.by_conversation, conversation_id)

    async def cursor(self, app_id: str, channel: str) -> str:
        return await to_thread.run_sync(self._channels.cursor, app_id, channel)

    async def save_cursor(self, app_id: str, channel: str, cursor: str) -> None:
        await to_thread.run_sync(self._channels.save_cursor, app_id, channel, cursor)
