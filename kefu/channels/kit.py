"""What kefu offers every channel: duplicates dropped, the customer's conversation found, the
turn run through the chat service (as the API runs it), and sends retried with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

import httpx

from kefu.channels.base import Channel, InboundMessage, OutboundMessage, Peer, SendFailed
from kefu.core.channel_records import ChannelLink
from kefu.core.errors import NotFound, RequestError, TooManyRequests
from kefu.observability import metrics
from kefu.services.channel_state import ChannelState
from kefu.services.chat import ChatRequest, TurnResult
from kefu.services.registry import AppRuntime
from kefu.services.runtime import Runtime

__all__ = ["ChannelKit"]

log = logging.getLogger(__name__)
MAX_USER_CHARS = 255


class ChannelKit:
    """One per configured channel of an app; the channel calls it, it calls the services."""

    def __init__(
        self,
        runtime: Runtime,
        state: ChannelState,
        *,
        app_name: str,
        name: str,
        kind: str,
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        tasks: set[asyncio.Task[Any]] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._runtime = runtime
        self.state = state
        self.app_name = app_name
        self.name = name  # the channel's name in the app file and its URL
        self.kind = kind  # its type: wecom_kf, webhook, feishu …
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._tasks: set[asyncio.Task[Any]] = tasks if tasks is not None else set()
        self._sleep = sleep
        self.channel: Channel | None = None  # set once the channel is built
        # One message per customer at a time, in arrival order: the first finds or starts
        # the conversation the next one continues (dropped when nobody waits on it).
        self._peer_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @property
    def app(self) -> AppRuntime:
        """The app as loaded now (an admin may have reloaded it)."""
        return self._runtime.apps.get(self.app_name)

    def user_of(self, peer: Peer) -> str:
        """The end-user id the chat service sees for a channel customer."""
        return f"{self.name}:{peer.id}"[:MAX_USER_CHARS]

    # --- inbound ----------------------------------------------------------------------------

    async def first_delivery(self, message_id: str) -> bool:
        """True the first time the platform's ``message_id`` arrives; a repeat is counted
        and dropped."""
        first = await self.state.first_delivery(self.app.id, self.name, message_id[:128])
        if not first:
            metrics.channel_received(self.app_name, self.kind, "duplicate")
        return first

    async def customer_message(
        self, message: InboundMessage, *, checked: bool = False
    ) -> TurnResult | None:
        """A customer's message: answered through the chat service and the answer sent
        back; a hand-over tells the channel. None when it was a duplicate or refused.
        ``checked``: the channel already called :meth:`first_delivery` for it."""
        if not checked and not await self.first_delivery(message.message_id):
            return None
        lock = self._peer_locks.get(message.peer.id)
        if lock is None:
            lock = self._peer_locks[message.peer.id] = asyncio.Lock()
        async with lock:
            return await self._answer(message)

    async def _answer(self, message: InboundMessage) -> TurnResult | None:
        app = self.app
        link = await self.state.by_peer(app.id, self.name, message.peer.id)
        request = ChatRequest(
            app=app,
            user=self.user_of(message.peer),
            query=message.text,
            conversation_id=link.conversation_id if link else None,
        )
        try:
            try:
                result = await self._turn(request)
            except NotFound:  # the conversation was deleted since: start a new one
                result = await self._turn(replace(request, conversation_id=None))
        except TooManyRequests as exc:
            metrics.channel_received(self.app_name, self.kind, "refused")
            log.warning("%s/%s: message refused: %s", self.app_name, self.name, exc.message)
            return None
        except RequestError as exc:  # empty or too long: nothing to answer
            metrics.channel_received(self.app_name, self.kind, "refused")
            log.info("%s/%s: message refused: %s", self.app_name, self.name, exc.message)
            return None
        except Exception:
            # Not answered (the store or a bug failed, not the customer's input): let the
            # platform's redelivery try again instead of dropping it as a duplicate.
            await self.state.forget_delivery(app.id, self.name, message.message_id[:128])
            raise
        metrics.channel_received(self.app_name, self.kind, "answered")
        if link is None or (link.conversation_id, link.address) != (
            result.conversation_id,
            message.peer.address,
        ):
            await self.state.link(
                ChannelLink(
                    app.id, self.name, message.peer.id, result.conversation_id,
                    message.peer.address,
                )
            )  # fmt: skip
        if result.answer:
            await self.deliver(
                message.peer,
                OutboundMessage(
                    result.answer,
                    result.message_id,
                    "answer",
                    result.conversation_id,
                    handoff_state=result.handoff_state,
                ),
            )
        if result.route == "handoff" and self.channel is not None:
            try:
                await self.channel.hand_over(message.peer)
            except (SendFailed, httpx.HTTPError) as exc:
                metrics.channel_sent(self.app_name, self.kind, "failed")
                log.warning("%s/%s: hand-over failed: %s", self.app_name, self.name, exc)
        return result

    async def human_desk_finished(self, peer: Peer) -> bool:
        """The platform's own agents (``handoff`` to the platform) are done with the
        customer: kefu's hand-over ends too, and the bot answers their next message."""
        link = await self.state.by_peer(self.app.id, self.name, peer.id)
        if link is None:
            return False
        return await self._runtime.handoff.ended_elsewhere(link.conversation_id)

    async def _turn(self, request: ChatRequest) -> TurnResult:
        chat = self._runtime.chat
        return await chat.answer(await chat.prepare(request))

    # --- outbound ---------------------------------------------------------------------------

    async def deliver(self, peer: Peer, message: OutboundMessage) -> bool:
        """Send through the channel, retrying network errors and platform hiccups with
        exponential backoff and jitter; False (logged, counted) when it gave up."""
        channel = self.channel
        assert channel is not None, "deliver() before the channel was built"
        return await self.retry(lambda: channel.send(peer, message), message.message_id)

    async def retry(self, attempt: Callable[[], Awaitable[None]], what: str) -> bool:
        """Run ``attempt`` until it succeeds, fails for good or runs out of tries."""
        for number in range(1, self.max_attempts + 1):
            try:
                await attempt()
            except (SendFailed, httpx.HTTPError) as exc:
                retryable = exc.retryable if isinstance(exc, SendFailed) else True
                final = not retryable or number == self.max_attempts
                log.warning(
                    "%s/%s: send %s: attempt %d/%d failed (%s: %s)%s",
                    self.app_name, self.name, what, number, self.max_attempts,
                    type(exc).__name__, exc, "; giving up" if final else "",
                )  # fmt: skip
                metrics.channel_sent(self.app_name, self.kind, "failed" if final else "retried")
                if final:
                    return False
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (number - 1))
                await self._sleep(delay * random.uniform(0.8, 1.2))
            else:
                metrics.channel_sent(self.app_name, self.kind, "sent")
                return True
        return False

    # --- state and background work ---------------------------------------------------------

    async def cursor(self, key: str = "") -> str:
        """Where pulling stopped (``key``: one of several streams of the channel)."""
        return await self.state.cursor(self.app.id, f"{self.name}/{key}" if key else self.name)

    async def save_cursor(self, cursor: str, key: str = "") -> None:
        where = f"{self.name}/{key}" if key else self.name
        await self.state.save_cursor(self.app.id, where, cursor)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` after the callback is answered (platforms wait seconds at most)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "%s/%s: background work failed", self.app_name, self.name,
                exc_info=task.exception(),
            )  # fmt: skip
