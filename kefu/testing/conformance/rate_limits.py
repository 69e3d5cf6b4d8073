"""The conformance suite for :class:`~kefu.safety.rate_limit.RateLimits` (token buckets).

Subclass :class:`RateLimitsConformance` and override ``limits``, building the limiter on the
suite's ``clock`` (a :class:`FakeClock`: call it for the time, ``advance`` it to let time
pass); for a shared implementation also override ``replica``.
"""

from __future__ import annotations

import pytest

from kefu.safety.rate_limit import RateLimits

__all__ = ["FakeClock", "RateLimitsConformance"]


class FakeClock:
    """Seconds that pass only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RateLimitsConformance:
    """Behaviour every token-bucket limiter must show."""

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def limits(self, clock: FakeClock) -> RateLimits:
        raise NotImplementedError

    @pytest.fixture
    def replica(self, limits: RateLimits) -> RateLimits:
        return limits

    def test_is_rate_limits(self, limits: RateLimits) -> None:
        assert isinstance(limits, RateLimits)

    def test_a_burst_passes_then_the_wait_is_named(self, limits: RateLimits) -> None:
        assert [limits.take("user:a", 2.0, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
        assert limits.take("user:a", 2.0, 3) == pytest.approx(0.5)

    def test_tokens_refill_at_the_rate(self, limits: RateLimits, clock: FakeClock) -> None:
        assert limits.take("k", 1.0, 1) == 0.0
        assert limits.take("k", 1.0, 1) == pytest.approx(1.0)
        clock.advance(0.25)
        assert limits.take("k", 1.0, 1) == pytest.approx(0.75)  # a refused take costs nothing
        clock.advance(0.75)
        assert limits.take("k", 1.0, 1) == 0.0

    def test_refill_stops_at_the_burst(self, limits: RateLimits, clock: FakeClock) -> None:
        assert limits.take("k", 10.0, 2) == 0.0
        clock.advance(60)
        assert [limits.take("k", 10.0, 2) for _ in range(2)] == [0.0, 0.0]
        assert limits.take("k", 10.0, 2) == pytest.approx(0.1)

    def test_keys_have_their_own_buckets(self, limits: RateLimits) -> None:
        assert limits.take("user:a", 1.0, 1) == 0.0
        assert limits.take("user:a", 1.0, 1) > 0
        assert limits.take("user:b", 1.0, 1) == 0.0
        assert limits.take("key:a", 1.0, 1) == 0.0

    def test_replicas_share_one_budget(self, limits: RateLimits, replica: RateLimits) -> None:
        assert limits.take("user:a", 1.0, 2) == 0.0
        assert replica.take("user:a", 1.0, 2) == 0.0
        assert limits.take("user:a", 1.0, 2) == pytest.approx(1.0)
        assert replica.take("user:a", 1.0, 2) == pytest.approx(1.0)
