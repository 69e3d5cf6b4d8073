"""The conformance suite for :class:`~kefu.handoff.events.EventHub` (live customer events).

Subclass :class:`EventHubConformance` and override ``hub`` (and ``replica`` for a shared hub:
another handle on the same channels, which publishes while ``hub`` listens).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kefu.handoff.events import EventHub
from kefu.testing.conformance import SIGNAL_TIMEOUT_S

__all__ = ["EventHubConformance"]

Queue = asyncio.Queue[dict[str, Any]]


async def received(queue: Queue, count: int = 1) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(queue.get(), SIGNAL_TIMEOUT_S) for _ in range(count)]


async def nothing_more(queue: Queue) -> bool:
    await asyncio.sleep(0.05)  # time for a wrongly routed event to arrive
    return queue.empty()


class EventHubConformance:
    """Behaviour every live-event hub must show."""

    @pytest.fixture
    def hub(self) -> EventHub:
        raise NotImplementedError

    @pytest.fixture
    def replica(self, hub: EventHub) -> EventHub:
        return hub

    def test_is_an_event_hub(self, hub: EventHub) -> None:
        assert isinstance(hub, EventHub)

    async def test_nobody_listening(self, hub: EventHub) -> None:
        assert hub.publish("c1", {"event": "agent_message"}) == 0

    async def test_every_listener_hears_in_order(self, hub: EventHub, replica: EventHub) -> None:
        async with hub.subscribe("c1") as first, hub.subscribe("c1") as second:
            assert replica.publish("c1", {"n": 1}) > 0
            replica.publish("c1", {"n": 2})
            assert await received(first, 2) == [{"n": 1}, {"n": 2}]
            assert await received(second, 2) == [{"n": 1}, {"n": 2}]

    async def test_only_the_conversation_s_listeners_hear(
        self, hub: EventHub, replica: EventHub
    ) -> None:
        async with hub.subscribe("c1") as mine, hub.subscribe("c2") as theirs:
            replica.publish("c2", {"to": "c2"})
            assert await received(theirs) == [{"to": "c2"}]
            assert await nothing_more(mine)

    async def test_leaving_stops_delivery(self, hub: EventHub, replica: EventHub) -> None:
        async with hub.subscribe("c1") as left:
            pass
        async with hub.subscribe("c1") as staying:
            replica.publish("c1", {"n": 1})
            assert await received(staying) == [{"n": 1}]
        assert await nothing_more(left)

    async def test_a_slow_listener_loses_the_oldest(self, hub: EventHub, replica: EventHub) -> None:
        async with hub.subscribe("c1") as slow:
            assert slow.maxsize > 0  # bounded, so a listener that never reads costs little
            for n in range(slow.maxsize + 5):
                replica.publish("c1", {"n": n})
            for _ in range(int(SIGNAL_TIMEOUT_S / 0.01)):  # until events from afar land
                if slow.full():
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # let any late event land (and push out an early one)
            events = await received(slow, slow.maxsize)
            assert events[0] == {"n": 5} and events[-1] == {"n": slow.maxsize + 4}
            assert await nothing_more(slow)
