"""The chat shortcut (kefu.api.chat_shortcut) answers exactly as the FastAPI route does: the
same requests, good and bad, get the same status, envelope and headers with it and without
it; it takes the well-formed messages and leaves every other request to FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest

from kefu.api.app import create_app
from kefu.api.chat_shortcut import ChatShortcut
from kefu.observability import metrics
from kefu.services.runtime import Runtime
from tests.conftest import DEMO_KEY

CHAT = "/v1/chat-messages"
_IDS = {"task_id", "id", "message_id", "conversation_id", "created_at"}
_VARYING_HEADERS = {"x-request-id", "x-trace-id", "content-length", "date"}


@asynccontextmanager
async def _client(runtime: Runtime, *, shortcut: bool) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime, close_runtime=False)
    if not shortcut:  # before the first request builds the middleware stack
        app.user_middleware = [m for m in app.user_middleware if m.cls is not ChatShortcut]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kefu.test") as client:
        yield client


def _comparable(response: httpx.Response) -> tuple[int, Any, dict[str, str]]:
    """Status, body without ids and timings, headers without per-request values."""
    headers = {k: v for k, v in response.headers.items() if k not in _VARYING_HEADERS}
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        events = [
            orjson.loads(line[len("data: ") :])
            for line in response.text.splitlines()
            if line.startswith("data: ")
        ]
        return response.status_code, [e["event"] for e in events], headers
    body = response.json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in _IDS}
        body.get("metadata", {}).pop("usage", None)
    return response.status_code, body, headers


_AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}
_JSON = {**_AUTH, "Content-Type": "application/json"}

# (headers, body): good messages, then every way a chat request can be wrong.
CASES: list[tuple[dict[str, str], bytes]] = [
    (_JSON, b'{"query": "how long does delivery take", "user": "U", "response_mode": "blocking"}'),
    (_JSON, b'{"query": "what payment methods do you take", "user": "U"}'),
    (
        {**_AUTH, "Content-Type": "Application/JSON; charset=utf-8"},
        b'{"query": "\xe9\x80\x80\xe8\xb4\xa7\xe6\x80\x8e\xe4\xb9\x88\xe5\x8a\x9e", "user": "U",'
        b' "response_mode": "blocking", "files": null, "inputs": {"n": 1.5}}',
    ),
    (_JSON, b"{not json"),
    (_JSON, b""),
    (_JSON, b"[1, 2]"),
    (_JSON, b'{"query": "hi"}'),
    (_JSON, b'{"query": "", "user": "U", "response_mode": "blocking"}'),
    (_JSON, b'{"query": 42, "user": "U"}'),
    (_JSON, b'{"query": "hi", "user": "U", "inputs": {"n": 123456789012345678901234}}'),
    (_JSON, b'{"query": "hi", "user": "U", "inputs": {"n": NaN}, "response_mode": "blocking"}'),
    (_JSON, b'{"query": "hi", "user": "U", "conversation_id": "nope"}'),
    (_JSON, b'{"query": "hi", "user": "U", "inputs": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"),
    ({**_AUTH, "Content-Type": "text/plain"}, b'{"query": "hi", "user": "U"}'),
    ({"Content-Type": "application/json"}, b'{"query": "hi", "user": "U"}'),
    (
        {"Authorization": "Bearer app-not-a-key", "Content-Type": "application/json"},
        b'{"query": "hi", "user": "U"}',
    ),
    (
        {"Authorization": "Bearer app-not-a-key", "Content-Type": "application/json"},
        b"{not json",
    ),
]


@pytest.mark.parametrize(("headers", "content"), CASES)
async def test_the_shortcut_answers_as_the_route_does(
    runtime: Runtime, user: str, headers: dict[str, str], content: bytes
) -> None:
    content = content.replace(b'"U"', orjson.dumps(user))
    async with (
        _client(runtime, shortcut=True) as short,
        _client(runtime, shortcut=False) as long,
    ):
        via_route = await long.post(CHAT, content=content, headers=headers)
        via_shortcut = await short.post(CHAT, content=content, headers=headers)
    assert _comparable(via_shortcut) == _comparable(via_route)
    assert via_shortcut.headers["x-request-id"]


async def test_well_formed_messages_skip_fastapi_and_others_do_not(
    runtime: Runtime, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fell_back: list[str] = []
    original = ChatShortcut._fall_back

    async def counted(self: ChatShortcut, scope: Any, *args: Any) -> None:
        fell_back.append(scope["path"])
        await original(self, scope, *args)

    monkeypatch.setattr(ChatShortcut, "_fall_back", counted)
    monkeypatch.setattr(runtime.settings, "metrics", True)  # create_app configures metrics
    before = metrics.HTTP_REQUESTS.labels("POST", CHAT, 200)._value.get()
    async with _client(runtime, shortcut=True) as client:
        good = await client.post(
            CHAT,
            json={
                "query": "how long does delivery take",
                "user": user,
                "response_mode": "blocking",
            },
            headers=_AUTH,
        )
        assert good.status_code == 200 and good.json()["answer"]
        assert fell_back == []
        # Counted under the route's template, as FastAPI's routing would name it.
        assert metrics.HTTP_REQUESTS.labels("POST", CHAT, 200)._value.get() == before + 1
        bad = await client.post(CHAT, json={"query": 42, "user": user}, headers=_AUTH)
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_param"
        other = await client.get("/v1/parameters", params={"user": user}, headers=_AUTH)
        assert other.status_code == 200
    assert fell_back == [CHAT]  # the invalid body; another route never reaches it


async def test_without_the_shortcut_under_fastapis_telemetry(runtime: Runtime) -> None:
    runtime.settings.otel = True
    try:
        app = create_app(runtime, close_runtime=False)
    finally:
        runtime.settings.otel = False
    assert all(m.cls is not ChatShortcut for m in app.user_middleware)


def test_the_shortcut_solves_what_the_route_depends_on() -> None:
    """The shortcut calls the caller dependency itself: a dependency added to the route must
    be added to the shortcut too, and until then it refuses to start."""
    from fastapi import APIRouter, Depends

    from kefu.api.chat_shortcut import chat_route
    from kefu.api.routes import chat

    async def audited() -> None:
        return None

    assert chat_route(chat.router.routes).endpoint is chat.chat_messages  # as kefu has it
    guarded = APIRouter(dependencies=[Depends(audited)])
    guarded.add_api_route("/v1/chat-messages", chat.chat_messages, methods=["POST"])
    with pytest.raises(LookupError, match="dependencies changed"):
        chat_route(guarded.routes)  # on the route's router
    with pytest.raises(LookupError, match="dependencies changed"):
        chat_route(chat.router.routes, [Depends(audited)])  # on the whole app
