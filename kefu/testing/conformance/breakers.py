"""The conformance suite for :class:`~kefu.llm.fallback.BreakerStates` (circuit breakers).

Subclass :class:`BreakerStatesConformance` and override ``states`` (and ``replica`` for a
shared implementation: another handle on the same records).
"""

from __future__ import annotations

import pytest

from kefu.llm.fallback import BreakerRecord, BreakerStates, CircuitBreaker

__all__ = ["BreakerStatesConformance"]


class BreakerStatesConformance:
    """Behaviour every store of circuit-breaker state must show."""

    @pytest.fixture
    def states(self) -> BreakerStates:
        raise NotImplementedError

    @pytest.fixture
    def replica(self, states: BreakerStates) -> BreakerStates:
        return states

    def test_is_breaker_states(self, states: BreakerStates) -> None:
        assert isinstance(states, BreakerStates)

    def test_an_unknown_key_is_closed(self, states: BreakerStates) -> None:
        assert states.get("0:qwen") == BreakerRecord(0, None)

    def test_failures_count_then_open(self, states: BreakerStates, replica: BreakerStates) -> None:
        assert states.record_failure("0:qwen", 3, now=10.0) == BreakerRecord(1, None)
        assert replica.record_failure("0:qwen", 3, now=11.0) == BreakerRecord(2, None)
        assert states.record_failure("0:qwen", 3, now=12.0) == BreakerRecord(3, 12.0)
        assert replica.get("0:qwen") == BreakerRecord(3, 12.0)

    def test_a_failure_while_open_reopens(self, states: BreakerStates) -> None:
        states.record_failure("0:qwen", 1, now=10.0)
        assert states.record_failure("0:qwen", 5, now=40.0) == BreakerRecord(2, 40.0)

    def test_reset_closes(self, states: BreakerStates, replica: BreakerStates) -> None:
        states.record_failure("0:qwen", 1, now=10.0)
        replica.reset("0:qwen")
        assert states.get("0:qwen") == BreakerRecord(0, None)
        states.reset("never-seen")  # harmless
        assert states.record_failure("0:qwen", 2, now=20.0) == BreakerRecord(1, None)

    def test_keys_are_independent(self, states: BreakerStates) -> None:
        states.record_failure("0:qwen", 1, now=10.0)
        assert states.get("1:deepseek") == BreakerRecord(0, None)

    def test_breakers_on_shared_state_agree(
        self, states: BreakerStates, replica: BreakerStates
    ) -> None:
        now = [100.0]
        here = CircuitBreaker(2, 30.0, clock=lambda: now[0], states=states, key="0:qwen")
        there = CircuitBreaker(2, 30.0, clock=lambda: now[0], states=replica, key="0:qwen")
        here.failure()
        there.failure()
        assert (here.state, there.state) == ("open", "open")
        now[0] = 130.0
        assert there.allow()  # half-open: one trial
        there.success()
        assert here.state == "closed"
