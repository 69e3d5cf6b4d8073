"""Readiness: can this process answer customers now? (``/ready``; ``/health`` only says it runs.)

Each check makes a real round trip under a short timeout, all at once: the database
(``SELECT 1``), Redis when ``KEFU_REDIS_URL`` is set (``PING``), and each app's primary model
when it is a remote server (``GET /models``, no retries). A draining process (SIGTERM
received) is not ready, so a load balancer stops sending it new work.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import SecretStr

from kefu.core.errors import KefuError
from kefu.core.settings import Settings
from kefu.services.registry import AppRegistry
from kefu.store import Store

__all__ = ["Check", "Reachable", "Readiness", "ReadinessReport"]

CheckFunction = Callable[[], Awaitable[None]]


@runtime_checkable
class Reachable(Protocol):
    """A model that can tell whether its server answers (``OpenAIChatModel``)."""

    name: str

    async def reachable(self, timeout_s: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Check:
    """One dependency's answer: ``ok``, how long it took, and what failed."""

    name: str
    ok: bool
    latency_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"ok": self.ok, "latency_ms": round(self.latency_ms, 1)}
        if self.error is not None:
            shown["error"] = self.error
        return shown


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    checks: tuple[Check, ...]
    draining: bool = False

    @property
    def ready(self) -> bool:
        return not self.draining and all(check.ok for check in self.checks)

    def failures(self) -> list[str]:
        failed = [f"{c.name}: {c.error}" for c in self.checks if not c.ok]
        return ["draining: the process is shutting down", *failed] if self.draining else failed


class Readiness:
    """The checks ``/ready`` runs. :meth:`add` registers one more (e.g. another backend)."""

    def __init__(self, settings: Settings, store: Store, apps: AppRegistry) -> None:
        self._settings = settings
        self._store = store
        self._apps = apps
        self._extra: dict[str, CheckFunction] = {}
        self.draining = False  # set by the server when a SIGTERM starts the drain

    def add(self, name: str, check: CheckFunction) -> None:
        """Run ``check`` too; it raises (anything) when the dependency is not usable."""
        self._extra[name] = check

    def _checks(self) -> dict[str, CheckFunction]:
        checks: dict[str, CheckFunction] = {"database": self._database}
        redis_url = _secret(getattr(self._settings, "redis_url", None))
        if redis_url and "redis" not in self._extra:
            checks["redis"] = lambda: _redis_ping(redis_url, self._settings.ready_timeout_s)
        checks.update(self._extra)
        timeout_s = self._settings.ready_timeout_s
        for model in self._remote_models():
            checks[f"model {model.name}"] = functools.partial(model.reachable, timeout_s)
        return checks

    def _remote_models(self) -> list[Reachable]:
        """Each app's primary model when it is a remote server, once per server."""
        found: dict[str, Reachable] = {}
        for app in self._apps.all():
            primary = next(iter(getattr(app.model, "models", [app.model])), None)
            if isinstance(primary, Reachable):
                found.setdefault(primary.name, primary)
        return list(found.values())

    async def _database(self) -> None:
        await asyncio.to_thread(self._store.ping)

    async def report(self) -> ReadinessReport:
        checks = self._checks()
        results = await asyncio.gather(*(self._run(name, check) for name, check in checks.items()))
        return ReadinessReport(tuple(results), draining=self.draining)

    async def _run(self, name: str, check: CheckFunction) -> Check:
        started = time.perf_counter()
        error: str | None = None
        try:
            await asyncio.wait_for(check(), self._settings.ready_timeout_s)
        except TimeoutError:
            error = f"no answer in {self._settings.ready_timeout_s:g} s"
        except KefuError as exc:
            error = exc.message
        except Exception as exc:  # a dependency's own error: its type and message
            error = f"{type(exc).__name__}: {exc}".rstrip(": ")
        latency_ms = (time.perf_counter() - started) * 1000
        return Check(name, error is None, latency_ms, _short(error))


def _secret(value: object) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value() or None
    return str(value) if value else None


async def _redis_ping(url: str, timeout_s: float) -> None:
    try:
        import redis.asyncio as redis
    except ImportError:
        raise RuntimeError(
            "KEFU_REDIS_URL is set but redis is not installed: pip install 'kefu[redis]'"
        ) from None
    client = redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        await client.ping()
    finally:
        await client.aclose()


def _short(error: str | None) -> str | None:
    """One line, bounded: a driver's message can carry a multi-line SQL dump."""
    if error is None:
        return None
    line = error.strip().splitlines()[0] if error.strip() else "failed"
    return line[:300]
