"""Bad input never gives a 500 or loses data: each case gets the envelope and the right code."""

from __future__ import annotations

import httpx
import pytest

from kefu.services.runtime import Runtime

CHAT = "/v1/chat-messages"


def assert_envelope(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"status", "code", "message"}
    assert body["status"] == status and body["code"] == code
    assert body["message"]


async def message_count(runtime: Runtime) -> int:
    return runtime.store.conversations.count_messages(runtime.apps.get("demo-shop").id)


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "bad_request"),
        (b"", 400, "invalid_param"),
        (b"[1, 2]", 400, "invalid_param"),
        (b'{"user": "u"}', 400, "invalid_param"),
        (b'{"query": "hi"}', 400, "invalid_param"),
        (b'{"query": "", "user": "u"}', 400, "invalid_param"),
        (b'{"query": "   \\n\\t ", "user": "u"}', 400, "invalid_param"),
        (b'{"query": "\\u0000\\u0007", "user": "u"}', 400, "invalid_param"),
        (b'{"query": "hi", "user": ""}', 400, "invalid_param"),
        (b'{"query": 42, "user": "u"}', 400, "invalid_param"),
        (b'{"query": "hi", "user": "u", "response_mode": "telepathy"}', 400, "invalid_param"),
        (b'{"query": "hi", "user": "u", "inputs": "nope"}', 400, "invalid_param"),
        (
            b'{"query": "hi", "user": "u", "inputs": {"n": 123456789012345678901234}}',
            400,
            "invalid_param",
        ),
        (
            b'{"query": "hi", "user": "u", "inputs": {"a": ' + b"[" * 300 + b"]" * 300 + b"}}",
            400,
            "invalid_param",
        ),
        (
            b'{"query": "hi", "user": "u", "inputs": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
            400,
            "bad_request",
        ),
    ],
)
async def test_malformed_chat_bodies(
    client: httpx.AsyncClient, runtime: Runtime, content: bytes, status: int, code: str
) -> None:
    before = await message_count(runtime)
    response = await client.post(
        CHAT, content=content, headers={"Content-Type": "application/json"}
    )
    assert_envelope(response, status, code)
    assert await message_count(runtime) == before, "a refused request stores nothing"


async def test_query_of_100_kb_is_refused(client: httpx.AsyncClient, user: str) -> None:
    response = await client.post(CHAT, json={"query": "退" * 100_000, "user": user})
    assert_envelope(response, 400, "invalid_param")
    assert "too long" in response.json()["message"]


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient, user: str) -> None:
    response = await client.post(CHAT, json={"query": "x" * 2_000_000, "user": user})
    assert_envelope(response, 413, "request_entity_too_large")


async def test_lone_surrogates_and_controls_are_cleaned_and_stored(
    client: httpx.AsyncClient, user: str
) -> None:
    raw = (
        b'{"query": "\\ud800\\u8ba2\\u5355\\u591a\\u4e45\\u53d1\\u8d27\\u0007\\udfff",'
        b' "user": "u-\\ud83d", "response_mode": "blocking"}'
    )
    response = await client.post(CHAT, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    body = response.json()
    history = await client.get(
        "/v1/messages", params={"conversation_id": body["conversation_id"], "user": "u-"}
    )
    assert history.status_code == 200
    assert history.json()["data"][0]["query"] == "订单多久发货"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer app-wrong"},
        {"Authorization": "Bearer admin-test-key"},
    ],
)
async def test_missing_or_wrong_key_is_401(
    client: httpx.AsyncClient, headers: dict[str, str], user: str
) -> None:
    response = await client.post(CHAT, json={"query": "hi", "user": user}, headers=headers)
    assert_envelope(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_wrong_content_type_is_415(client: httpx.AsyncClient, content_type: str) -> None:
    response = await client.post(
        CHAT, content=b'{"query": "hi", "user": "u"}', headers={"Content-Type": content_type}
    )
    assert_envelope(response, 415, "unsupported_media_type")


async def test_unknown_conversation_is_404(client: httpx.AsyncClient, user: str) -> None:
    for conversation_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid", "'; drop"):
        response = await client.post(
            CHAT, json={"query": "hi", "user": user, "conversation_id": conversation_id}
        )
        assert_envelope(response, 404, "not_found")
    streaming = await client.post(
        CHAT,
        json={"query": "hi", "user": user, "conversation_id": "nope", "response_mode": "streaming"},
    )
    assert_envelope(streaming, 404, "not_found")


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/v1/nothing-here"), 404, "not_found")
    assert_envelope(await client.get(CHAT), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"user": "u"}, "invalid_param"),
        ({"conversation_id": "x"}, "invalid_param"),
        ({"conversation_id": "x", "user": "u", "limit": "0"}, "invalid_param"),
        ({"conversation_id": "x", "user": "u", "limit": "101"}, "invalid_param"),
        ({"conversation_id": "x", "user": "u", "limit": "many"}, "invalid_param"),
    ],
)
async def test_bad_history_queries(
    client: httpx.AsyncClient, params: dict[str, str], code: str
) -> None:
    assert_envelope(await client.get("/v1/messages", params=params), 400, code)


@pytest.mark.parametrize("page", ["2018488792815853109248", "100001", "0"])
async def test_an_out_of_range_feedbacks_page_is_400(client: httpx.AsyncClient, page: str) -> None:
    # Found by schemathesis: a page past SQLite's 64-bit OFFSET was a 500.
    got = await client.get("/v1/app/feedbacks", params={"page": page, "limit": "13"})
    assert_envelope(got, 400, "invalid_param")


async def test_feedback_validation(client: httpx.AsyncClient, user: str) -> None:
    bad = await client.post("/v1/messages/x/feedbacks", json={"user": user, "rating": "meh"})
    assert_envelope(bad, 400, "invalid_param")
    unknown = await client.post("/v1/messages/x/feedbacks", json={"user": user, "rating": "like"})
    assert_envelope(unknown, 404, "not_found")


@pytest.mark.parametrize(
    ("headers", "content", "status", "code"),
    [
        ({"Content-Type": "text/plain"}, b'{"model": "demo-shop"}', 415, "unsupported_media_type"),
        ({"Content-Type": "application/json"}, b"x" * 2_000_000, 413, "request_entity_too_large"),
        (
            {"Content-Type": "application/json", "Content-Length": "99999999999"},
            b"{}",
            413,
            "request_entity_too_large",
        ),
    ],
)
async def test_openai_path_refusals_take_openais_shape(
    client: httpx.AsyncClient, headers: dict[str, str], content: bytes, status: int, code: str
) -> None:
    """The guard that runs before routing answers the OpenAI endpoint in OpenAI's shape too."""
    response = await client.post("/v1/chat/completions", content=content, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("user", ["u\u0000x", "u\u001b[31m", "line\nbreak", "tab\there"])
async def test_control_characters_in_the_user_id_are_refused(
    client: httpx.AsyncClient, runtime: Runtime, user: str
) -> None:
    """Dropping them would make "u\\x00x" and "ux" the same customer: refused instead."""
    before = await message_count(runtime)
    response = await client.post(CHAT, json={"query": "运费多少", "user": user})
    assert_envelope(response, 400, "invalid_param")
    assert "control characters" in response.json()["message"]
    assert await message_count(runtime) == before


async def test_control_characters_in_a_conversation_name_are_refused(
    client: httpx.AsyncClient, user: str
) -> None:
    answered = await client.post(
        CHAT, json={"query": "运费多少", "user": user, "response_mode": "blocking"}
    )
    conversation_id = answered.json()["conversation_id"]
    response = await client.post(
        f"/v1/conversations/{conversation_id}/name", json={"name": "a\u0000b", "user": user}
    )
    assert_envelope(response, 400, "invalid_param")
