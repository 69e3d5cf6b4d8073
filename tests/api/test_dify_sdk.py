"""Dify's own Python SDK (``dify-client``), unchanged, against `kefu serve --demo` on uvicorn.

The SDK sends ``"files": null`` with every message, ``inputs`` as given, and the user on
every call; it reads blocking answers as JSON and streams as ``data:`` lines. Calls that
version 0.1.10 does not have yet (delete a conversation, stop an answer) go through its own
``_send_request`` the way later versions send them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dify_client import ChatClient

from tests.servers import KEY, running_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("dify-sdk") / "data"
    with running_server(data_dir) as base_url:
        yield base_url


@pytest.fixture
def dify(server: str) -> ChatClient:
    client = ChatClient(KEY)
    client.base_url = f"{server}/v1"  # the SDK's default is api.dify.ai
    return client


def events(response: Any) -> list[dict[str, Any]]:
    """The ``data:`` events of a streamed answer, as an SDK user reads them."""
    assert response.status_code == 200, response.text
    lines = [line.decode() for line in response.iter_lines() if line]
    return [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]


def test_blocking_and_streaming_messages(dify: ChatClient) -> None:
    blocking = dify.create_chat_message({}, "订单多久发货?", "sdk-chat")
    assert blocking.status_code == 200, blocking.text
    answer = blocking.json()
    assert answer["event"] == "message" and "16:00" in answer["answer"]
    assert answer["metadata"]["retriever_resources"]

    streamed = events(
        dify.create_chat_message(
            {}, "订单多久发货?", "sdk-chat", response_mode="streaming", files=[]
        )
    )
    names = [e["event"] for e in streamed]
    assert names[-1] == "message_end" and set(names[:-1]) == {"message"} and len(names) > 2
    assert "".join(e["answer"] for e in streamed[:-1]) == answer["answer"]
    assert len({e["conversation_id"] for e in streamed}) == 1

    follow_up = dify.create_chat_message(
        {}, "怎么开发票", "sdk-chat", conversation_id=answer["conversation_id"]
    )
    assert follow_up.json()["conversation_id"] == answer["conversation_id"]
    remote_file = [{"type": "image", "transfer_method": "remote_url", "url": "https://x/y.png"}]
    with_file = dify.create_chat_message(
        {"topic": None}, "怎么开发票", "sdk-chat", files=remote_file
    )
    assert with_file.status_code == 200, with_file.text


def test_conversations_messages_rename_feedback(dify: ChatClient) -> None:
    user = "sdk-history"
    first = dify.create_chat_message({}, "退货要扣多少运费?", user).json()
    conversation_id = first["conversation_id"]
    dify.create_chat_message({}, "怎么开发票", user, conversation_id=conversation_id)

    listed = dify.get_conversations(user)
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["data"]] == [conversation_id]
    assert dify.get_conversations(user, limit=1).json()["limit"] == 1

    messages = dify.get_conversation_messages(user, conversation_id)
    assert messages.status_code == 200, messages.text
    data = messages.json()["data"]
    assert [m["query"] for m in data] == ["退货要扣多少运费?", "怎么开发票"]
    assert data[0]["answer"] == first["answer"]
    latest = dify.get_conversation_messages(user, conversation_id, limit=1).json()
    assert [m["query"] for m in latest["data"]] == ["怎么开发票"] and latest["has_more"]
    older = dify.get_conversation_messages(
        user, conversation_id, first_id=latest["data"][0]["id"], limit=1
    ).json()
    assert [m["query"] for m in older["data"]] == ["退货要扣多少运费?"]

    renamed = dify.rename_conversation(conversation_id, "运费和发票", user)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "运费和发票"
    assert dify.get_conversations(user).json()["data"][0]["name"] == "运费和发票"

    liked = dify.message_feedback(first["message_id"], "like", user)
    assert liked.json() == {"result": "success"}
    data = dify.get_conversation_messages(user, conversation_id).json()["data"]
    assert data[0]["feedback"] == {"rating": "like"}
    dify.message_feedback(first["message_id"], None, user)  # withdrawn
    assert (
        dify.get_conversation_messages(user, conversation_id).json()["data"][0]["feedback"] is None
    )

    # What later SDK versions send for delete_conversation(conversation_id, user).
    deleted = dify._send_request("DELETE", f"/conversations/{conversation_id}", {"user": user})
    assert deleted.json() == {"result": "success"}
    assert dify.get_conversations(user).json()["data"] == []


def test_application_parameters(dify: ChatClient) -> None:
    parameters = dify.get_application_parameters("sdk-params")
    assert parameters.status_code == 200, parameters.text
    body = parameters.json()
    assert "您好" in body["opening_statement"]
    assert body["suggested_questions"] and body["user_input_form"] == []


def test_stop_a_streaming_answer(dify: ChatClient) -> None:
    response = dify.create_chat_message(
        {}, "退货要扣多少运费?", "sdk-stop", response_mode="streaming"
    )
    lines = response.iter_lines()
    first = next(line.decode() for line in lines if line.startswith(b"data: "))
    task_id = json.loads(first[len("data: ") :])["task_id"]
    # What later SDK versions send for stop_message(task_id, user).
    stopped = dify._send_request("POST", f"/chat-messages/{task_id}/stop", {"user": "sdk-stop"})
    assert stopped.json() == {"result": "success"}
    rest = [
        json.loads(line[6:]) for line in (x.decode() for x in lines) if line.startswith("data: ")
    ]
    assert rest[-1]["event"] == "message_end"


def test_errors_come_back_in_difys_envelope(dify: ChatClient) -> None:
    stranger = ChatClient("app-not-a-key")
    stranger.base_url = dify.base_url
    denied = stranger.create_chat_message({}, "hi", "sdk-errors")
    assert denied.status_code == 401
    assert denied.json() == {
        "status": 401,
        "code": "unauthorized",
        "message": "Access token is invalid",
    }
    missing = dify.create_chat_message(
        {}, "hi", "sdk-errors", conversation_id="0190a0a0-0000-7000-8000-000000000000"
    )
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
