"""What the channels (kefu.channels) keep in the store, reached off the event loop.

Duplicate platform deliveries are recognised by message id, customers are linked to their
kefu conversation, and pulling channels keep their cursor — all durable, so a restart or a
second replica behaves the same.
"""

from __future__ import annotations

from anyio import to_thread

from kefu.core.channel_records import ChannelLink
from kefu.store import Store

__all__ = ["ChannelLink", "ChannelState"]


class ChannelState:
    """One per process; every method runs its SQL in a worker thread."""

    def __init__(self, store: Store) -> None:
        self._channels = store.channels

    async def first_delivery(self, app_id: str, channel: str, message_id: str) -> bool:
        """True the first time ``message_id`` arrives on the channel; False for a repeat."""
        return await to_thread.run_sync(self._channels.first_delivery, app_id, channel, message_id)

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
