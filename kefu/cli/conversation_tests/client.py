"""Talking to an app as a customer, and reading what each turn decided from its trace.

Both ways of running tests go through the same HTTP API, so a test passes or fails alike
in process and against a server: the Dify-compatible ``POST /v1/chat-messages`` (blocking)
with the app's key, then the admin API's ``GET /admin/messages/{id}/trace`` with the admin
key for what the answer alone does not show (route, intent, flow, slots, tool calls).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Observed", "TestClient", "TurnFailed"]

RATE_LIMIT_RETRIES = 4


class TurnFailed(Exception):
    """The app did not answer the turn (an HTTP error): the test fails with this message."""


@dataclass(frozen=True, slots=True)
class Observed:
    """What a turn did, as the checks see it."""

    answer: str
    conversation_id: str
    handoff: str
    sources: list[dict[str, Any]]
    trace: dict[str, Any] | None  # None without an admin key
    message_id: str = ""

    def _stage(self, name: str) -> dict[str, Any]:
        for stage in (self.trace or {}).get("stages", []):
            if stage.get("name") == name:
                return dict(stage)
        return {}

    @property
    def route(self) -> str | None:
        return (self.trace or {}).get("route")

    @property
    def language(self) -> str | None:
        return (self.trace or {}).get("language")

    @property
    def intent(self) -> str | None:
        return (self._stage("understand").get("intent") or {}).get("label")

    @property
    def flow_record(self) -> dict[str, Any]:
        return dict(self._stage("route").get("flow") or {})

    @property
    def flow(self) -> str | None:
        return self.flow_record.get("flow")

    @property
    def asks(self) -> str | None:
        return self.flow_record.get("asked")

    @property
    def slots(self) -> dict[str, Any]:
        return dict((self.trace or {}).get("slots") or {})

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return list((self.trace or {}).get("tool_calls") or [])

    @property
    def cited(self) -> list[str]:
        """Each source as an FAQ/segment id and as its document's name."""
        names: list[str] = []
        for source in self.sources:
            names += [str(source.get("segment_id", "")), str(source.get("document_name", ""))]
        return [name for name in names if name]


class TestClient:
    """A customer's side of the service API, plus the admin API's trace read."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        http: httpx.AsyncClient,
        app_key: str,
        admin_key: str | None,
        *,
        closers: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        """``closers`` run in :meth:`aclose`, in the run's event loop (an in-process app's
        tool and model connections)."""
        self.http = http
        self.app_key = app_key
        self.admin_key = admin_key
        self.closers = list(closers)

    async def aclose(self) -> None:
        await self.http.aclose()
        for close in self.closers:
            await close()

    async def say(
        self, user: str, query: str, conversation_id: str, inputs: dict[str, Any]
    ) -> Observed:
        body = {
            "query": query,
            "user": user,
            "inputs": inputs,
            "response_mode": "blocking",
            "conversation_id": conversation_id,
        }
        headers = {"Authorization": f"Bearer {self.app_key}"}
        for _ in range(RATE_LIMIT_RETRIES):
            try:
                response = await self.http.post("/v1/chat-messages", json=body, headers=headers)
            except httpx.TimeoutException as exc:  # this test fails; a refused connection
                raise TurnFailed(f"no answer in time: {exc!r}") from None  # stops the run
            if response.status_code != 429:
                break
            # a long test outruns the app's per-user rate limit: wait as the API asks
            await asyncio.sleep(min(float(response.headers.get("Retry-After") or 1), 10.0))
        if response.status_code != 200:
            raise TurnFailed(f"POST /v1/chat-messages → {response.status_code}: {response.text}")
        answered = response.json()
        metadata = answered.get("metadata") or {}
        trace = None
        if self.admin_key:
            traced = await self.http.get(
                f"/admin/messages/{answered['message_id']}/trace",
                headers={"Authorization": f"Bearer {self.admin_key}"},
            )
            if traced.status_code != 200:
                raise TurnFailed(
                    f"GET /admin/messages/…/trace → {traced.status_code}: {traced.text}"
                )
            trace = traced.json()
        return Observed(
            answer=str(answered.get("answer", "")),
            conversation_id=str(answered.get("conversation_id", "")),
            handoff=str(metadata.get("handoff_state", "")),
            sources=list(metadata.get("retriever_resources") or []),
            trace=trace,
            message_id=str(answered.get("message_id", "")),
        )
