"""``X-Request-Id`` in and out, the turn's ``X-Trace-Id``, and log lines that carry the
request and the turn (JSON or plain)."""

from __future__ import annotations

import contextvars
import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from kefu.api.app import create_app
from kefu.llm.fallback import FallbackChain
from kefu.observability import context
from kefu.observability.logs import ContextFilter, configure_logging, json_formatter
from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel
from tests.conftest import ADMIN_KEY, DEMO_KEY
from tests.servers import in_process_client

CHAT = "/v1/chat-messages"
HEX32 = set("0123456789abcdef")


def ask(query: str, user: str, mode: str = "blocking") -> dict[str, object]:
    return {"query": query, "user": user, "inputs": {}, "response_mode": mode}


def is_trace_id(text: str) -> bool:
    return len(text) == 32 and set(text) <= HEX32


async def stored_trace_id(http: httpx.AsyncClient, message_id: str) -> str:
    response = await http.get(
        f"/admin/messages/{message_id}/trace", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["trace_id"])


async def test_a_request_id_is_returned_and_a_trace_shaped_one_is_the_trace_id(
    runtime: Runtime, user: str
) -> None:
    async with in_process_client(runtime, DEMO_KEY) as http:
        generated = await http.post(CHAT, json=ask("订单多久发货?", user))
        request_id = generated.headers["x-request-id"]
        assert is_trace_id(request_id)
        # No id sent: kefu's own is trace-shaped, so it is the turn's trace id as well.
        assert generated.headers["x-trace-id"] == request_id
        message_id = generated.json()["message_id"]
        assert await stored_trace_id(http, message_id) == request_id

        mine = "req-2026/abc_DEF.42"
        echoed = await http.post(
            CHAT, json=ask("订单多久发货?", user), headers={"X-Request-Id": mine}
        )
        assert echoed.headers["x-request-id"] == mine
        trace_id = echoed.headers["x-trace-id"]
        assert is_trace_id(trace_id) and trace_id != mine
        stored = await http.get(
            f"/admin/messages/{echoed.json()['message_id']}/trace",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert stored.json()["trace_id"] == trace_id
        assert stored.json()["request_id"] == mine  # the client's id finds the trace

        upstream = "4BF92F3577B34DA6A3CE929D0E0E4736"  # W3C-shaped, from a proxy
        linked = await http.post(
            CHAT, json=ask("订单多久发货?", user, "streaming"), headers={"X-Request-Id": upstream}
        )
        assert linked.headers["x-request-id"] == upstream
        assert linked.headers["x-trace-id"] == upstream.lower()

        # Every response has one, errors and non-turn routes too; only turns have a trace.
        for response in (await http.get("/health"), await http.get("/nope")):
            assert is_trace_id(response.headers["x-request-id"])
            assert "x-trace-id" not in response.headers


@pytest.mark.parametrize(
    "hostile",
    [
        b"x" * 129,
        b"",
        b"two words",
        b"<script>alert(1)</script>",
        b'quote"d',
        "\u4e2d\u6587".encode(),
        b"\xff\xfe\x00bytes",
        b"a\tb",
    ],
)
async def test_a_hostile_request_id_is_replaced_never_an_error(
    runtime: Runtime, hostile: bytes
) -> None:
    app = create_app(runtime, close_runtime=False)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/health", "raw_path": b"/health", "query_string": b"",
        "root_path": "", "headers": [(b"x-request-id", hostile)], "client": ("127.0.0.1", 1),
        "server": ("kefu.test", 80), "state": {},
    }  # fmt: skip
    await app(scope, receive, send)
    start = sent[0]
    assert start["status"] == 200
    ids = [value for name, value in start["headers"] if name == b"x-request-id"]  # type: ignore[attr-defined]
    assert len(ids) == 1 and ids[0] != hostile and is_trace_id(ids[0].decode())


async def test_an_unexpected_error_still_returns_the_request_id(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, user: str
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(runtime.chat, "prepare", broken)
    async with in_process_client(runtime, DEMO_KEY) as http:
        response = await http.post(
            CHAT, json=ask("订单多久发货?", user), headers={"X-Request-Id": "bug-report-7"}
        )
    assert response.status_code == 500
    assert response.json()["code"] == "internal_server_error"
    assert response.headers["x-request-id"] == "bug-report-7"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What kefu's JSON handler writes while the test runs (added beside pytest's own)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(ContextFilter())
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


async def test_every_log_line_of_a_turn_carries_the_request_and_the_turn(
    llm_runtime: Runtime, json_lines: io.StringIO
) -> None:
    down = ScriptedChatModel(name="down-model").fail("connection refused")
    up = ScriptedChatModel(name="up-model").say("运费从退款中扣除 [1]。")
    llm_runtime.apps.get("demo-shop").model = FallbackChain([down, up])
    async with in_process_client(llm_runtime, DEMO_KEY) as http:
        response = await http.post(
            CHAT,
            json=ask("拒收的话运费谁出", "logged", "streaming"),
            headers={"X-Request-Id": "r-1"},
        )
    assert response.status_code == 200
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    failed = [line for line in lines if line["message"].startswith("model failed")]
    assert len(failed) == 1
    line = failed[0]
    assert line["level"] == "WARNING" and line["logger"] == "kefu.llm.fallback" and line["time"]
    assert line["request_id"] == "r-1"
    assert line["trace_id"] == response.headers["x-trace-id"]
    assert line["app"] == "demo-shop" and line["route"] == "generate"
    first_event = json.loads(response.text.split("data: ")[1])
    conversation_id = first_event["conversation_id"]
    assert line["conversation_id"] == conversation_id


def test_plain_and_json_formats_and_the_default() -> None:
    contextvars.copy_context().run(formats_and_default)  # the log context stays in here


def formats_and_default() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        assert configure_logging("info", "auto", io.StringIO()) == "json"
        assert configure_logging("info", "auto", Terminal()) == "plain"
        plain = io.StringIO()
        assert configure_logging("info", "plain", plain) == "plain"
        context.start("r-9").app = "shop"
        logging.getLogger("kefu.test").warning("订单 %s 不存在", "A1")
        assert plain.getvalue() == "WARNING kefu.test: 订单 A1 不存在 [request_id=r-9 app=shop]\n"
        written = io.StringIO()
        configure_logging("info", "json", written)
        logging.getLogger("kefu.test").info("你好")
        line = json.loads(written.getvalue())
        assert line["message"] == "你好" and "你好" in written.getvalue()  # readable, not \\u
        assert line["request_id"] == "r-9" and line["app"] == "shop"
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
