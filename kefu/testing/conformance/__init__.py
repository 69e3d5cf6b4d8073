"""Conformance suites: one per interface that has (or will have) several implementations.

Each module holds a pytest base class; an implementation's tests subclass it and override
its factory fixture, as ``tests/`` does for the in-memory implementations::

    class TestRedisTaskRegistry(AnswerTasksConformance):
        @pytest.fixture
        def tasks(self, redis_url: str) -> AnswerTasks: ...

Shared-state suites also take ``replica``: a second handle on the *same* state (another
replica's view); by default the same object. Signals that cross replicas may arrive a moment
later, so the suites wait for them (``SIGNAL_TIMEOUT_S``) instead of reading them at once.

The suites need pytest and, for their async tests, pytest-asyncio in auto mode
(``asyncio_mode = "auto"``, as kefu runs them): ``pip install 'kefu[testing]'``. Nothing in
kefu imports them.
"""

try:
    import pytest  # noqa: F401
except ImportError:
    raise ImportError(
        "kefu's conformance suites need pytest: pip install 'kefu[testing]'"
    ) from None

SIGNAL_TIMEOUT_S = 2.0
