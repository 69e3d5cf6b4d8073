"""The conformance suite for :class:`~kefu.core.locks.TurnLocks` (one turn at a time).

Subclass :class:`TurnLocksConformance` and override ``locks`` (and ``replica`` for a shared
implementation: another handle on the same locks).
"""

from __future__ import annotations

import asyncio

import pytest

from kefu.core.errors import Conflict, KefuError
from kefu.core.locks import TurnLocks
from kefu.testing.conformance import SIGNAL_TIMEOUT_S

__all__ = ["TurnLocksConformance"]


class TurnLocksConformance:
    """Behaviour every per-conversation turn lock must show."""

    @pytest.fixture
    def locks(self) -> TurnLocks:
        raise NotImplementedError

    @pytest.fixture
    def replica(self, locks: TurnLocks) -> TurnLocks:
        return locks

    def test_is_turn_locks(self, locks: TurnLocks) -> None:
        assert isinstance(locks, TurnLocks)

    async def test_turns_of_one_conversation_never_overlap(
        self, locks: TurnLocks, replica: TurnLocks
    ) -> None:
        inside: list[int] = []
        log: list[str] = []

        async def turn(handle: TurnLocks, n: int) -> None:
            async with handle.lock("c1", timeout_s=SIGNAL_TIMEOUT_S * 5):
                inside.append(n)
                assert len(inside) == 1, "two turns of one conversation at once"
                log.append(f"in {n}")
                await asyncio.sleep(0.01)
                log.append(f"out {n}")
                inside.remove(n)

        await asyncio.gather(*(turn(locks if n % 2 else replica, n) for n in range(6)))
        assert len(log) == 12
        assert all(log[i].split()[1] == log[i + 1].split()[1] for i in range(0, 12, 2))

    async def test_other_conversations_do_not_wait(
        self, locks: TurnLocks, replica: TurnLocks
    ) -> None:
        async with locks.lock("c1"):
            async with asyncio.timeout(SIGNAL_TIMEOUT_S), replica.lock("c2", timeout_s=0.5):
                pass

    async def test_a_turn_waiting_too_long_is_refused(
        self, locks: TurnLocks, replica: TurnLocks
    ) -> None:
        async with locks.lock("c1"):
            with pytest.raises(Conflict) as refused:
                async with replica.lock("c1", timeout_s=0.05):
                    pytest.fail("entered a held lock")
        assert isinstance(refused.value, KefuError)
        async with asyncio.timeout(SIGNAL_TIMEOUT_S), replica.lock("c1", timeout_s=0.5):
            pass  # the refused waiter left nothing behind

    async def test_the_lock_is_released_when_the_turn_fails(
        self, locks: TurnLocks, replica: TurnLocks
    ) -> None:
        with pytest.raises(RuntimeError):
            async with locks.lock("c1"):
                raise RuntimeError("the turn failed")
        async with replica.lock("c1", timeout_s=0.5):
            pass

    async def test_a_cancelled_waiter_does_not_keep_the_lock(
        self, locks: TurnLocks, replica: TurnLocks
    ) -> None:
        entered = asyncio.Event()

        async def waiter() -> None:
            async with replica.lock("c1", timeout_s=SIGNAL_TIMEOUT_S * 5):
                entered.set()

        async with locks.lock("c1"):
            waiting = asyncio.create_task(waiter())
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        assert not entered.is_set()
        async with replica.lock("c1", timeout_s=0.5):
            pass

    async def test_the_waiter_gets_the_lock_when_it_is_released(
        self, locks: TurnLocks, replica: TurnLocks
    ) -> None:
        order: list[str] = []

        async def second() -> None:
            async with replica.lock("c1", timeout_s=SIGNAL_TIMEOUT_S * 5):
                order.append("second")

        async with locks.lock("c1"):
            waiting = asyncio.create_task(second())
            await asyncio.sleep(0.05)
            order.append("first")
        await asyncio.wait_for(waiting, SIGNAL_TIMEOUT_S * 5)
        assert order == ["first", "second"]
