"""Property-based bad input: whatever a client sends, the answer is a 2xx or the envelope."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from kefu.api.app import create_app
from kefu.services.runtime import Runtime
from tests.conftest import DEMO_KEY

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Text as JSON clients can send it: any code point, lone surrogates and controls included.
any_text = st.lists(
    st.characters()
    | st.integers(0xD800, 0xDFFF).map(chr)
    | st.sampled_from(["\x00", "\x07", "\u202e", "\ufeff", " ", "\n"]),
    max_size=60,
).map("".join)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "query": any_text | json_values,
        "user": any_text | json_values,
        "inputs": json_values,
        "response_mode": st.sampled_from(["blocking", "streaming", "", "x"]) | json_values,
        "conversation_id": any_text | st.none(),
    },
)


def envelope_or_success(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"status", "code", "message"}
        assert body["status"] == response.status_code


def openai_error_or_success(response: Any) -> None:
    """The OpenAI-compatible routes answer errors in OpenAI's envelope (kefu.api.errors)."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] and error["message"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_chat_messages_never_500(runtime: Runtime, body: dict[str, Any]) -> None:
    client = TestClient(create_app(runtime, close_runtime=False), raise_server_exceptions=False)
    raw = json.dumps(body, ensure_ascii=True).encode()  # \\ud800 escapes survive as JSON
    response = client.post(
        "/v1/chat-messages",
        content=raw,
        headers={"Authorization": f"Bearer {DEMO_KEY}", "Content-Type": "application/json"},
    )
    envelope_or_success(response)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/v1/messages", "/v1/conversations", "/v1/parameters"]),
    params=st.dictionaries(
        st.sampled_from(["user", "conversation_id", "first_id", "last_id", "limit", "sort_by"]),
        st.text(max_size=30),
    ),
)
def test_reads_never_500(runtime: Runtime, path: str, params: dict[str, str]) -> None:
    client = TestClient(create_app(runtime, close_runtime=False), raise_server_exceptions=False)
    response = client.get(path, params=params, headers={"Authorization": f"Bearer {DEMO_KEY}"})
    envelope_or_success(response)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "model": st.just("demo-shop") | any_text | json_values,
            "messages": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "role": st.sampled_from(["user", "system", "assistant"]) | any_text,
                        "content": any_text | json_values,
                    },
                ),
                max_size=3,
            )
            | json_values,
            "stream": json_values,
            "user": any_text | json_values,
            "conversation_id": any_text | st.none(),
        },
    )
)
def test_openai_completions_never_500(runtime: Runtime, body: dict[str, Any]) -> None:
    client = TestClient(create_app(runtime, close_runtime=False), raise_server_exceptions=False)
    response = client.post(
        "/v1/chat/completions",
        content=json.dumps(body, ensure_ascii=True).encode(),
        headers={"Authorization": f"Bearer {DEMO_KEY}", "Content-Type": "application/json"},
    )
    openai_error_or_success(response)
