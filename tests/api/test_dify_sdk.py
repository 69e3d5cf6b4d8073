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
    site = dify._send_request("GET", "/site", params={"user": "sdk-params"})
    assert site.status_code == 200 and site.json()["default_language"] == "zh-Hans"


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


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # the signature is what kefu checks


def test_suggested_questions_after_an_answer(dify: ChatClient) -> None:
    user = "sdk-suggested"
    answer = dify.create_chat_message({}, "退货要扣多少运费?", user).json()
    suggested = dify._send_request(
        "GET", f"/messages/{answer['message_id']}/suggested", params={"user": user}
    )
    assert suggested.status_code == 200, suggested.text
    body = suggested.json()
    assert body["result"] == "success" and 1 <= len(body["data"]) <= 3
    assert "退货要扣多少运费?" not in body["data"]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in q) for q in body["data"]), body
    english = dify.create_chat_message({}, "How long does shipping take?", user).json()
    in_english = dify._send_request(
        "GET", f"/messages/{english['message_id']}/suggested", params={"user": user}
    ).json()["data"]
    assert in_english and all(q.isascii() for q in in_english), in_english
    # Another user's message does not exist for this one.
    other = dify._send_request(
        "GET", f"/messages/{answer['message_id']}/suggested", params={"user": "sdk-other"}
    )
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    parameters = dify.get_application_parameters(user).json()
    assert parameters["suggested_questions_after_answer"] == {"enabled": True}
    assert parameters["file_upload"]["image"]["enabled"] is True


def test_upload_an_image_and_send_it_with_a_message(dify: ChatClient) -> None:
    user = "sdk-files"
    uploaded = dify.file_upload(user, {"file": ("截图.png", PNG, "image/png")})
    assert uploaded.status_code == 201, uploaded.text
    file = uploaded.json()
    assert file["name"] == "截图.png" and file["size"] == len(PNG)
    assert (file["extension"], file["mime_type"], file["created_by"]) == ("png", "image/png", user)

    image = {"type": "image", "transfer_method": "local_file", "upload_file_id": file["id"]}
    link = {"type": "image", "transfer_method": "remote_url", "url": "https://img.example/a.jpg"}
    sent = dify.create_chat_message({}, "收到的商品破损了", user, files=[image, link])
    assert sent.status_code == 200, sent.text
    conversation_id = sent.json()["conversation_id"]
    messages = dify.get_conversation_messages(user, conversation_id).json()["data"]
    files = messages[0]["message_files"]
    assert (files[0]["id"], files[0]["transfer_method"], files[0]["type"]) == (
        file["id"],
        "local_file",
        "image",
    )
    assert files[1]["url"] == "https://img.example/a.jpg"
    preview = dify._send_request("GET", f"/files/{file['id']}/preview")
    assert preview.status_code == 200 and preview.content == PNG
    assert preview.headers["content-type"] == "image/png"

    # An upload goes with one message, of its own user.
    again = dify.create_chat_message({}, "还是破损", user, files=[image])
    assert again.status_code == 400 and again.json()["code"] == "invalid_param"
    theirs = dify.file_upload("sdk-files-2", {"file": ("a.png", PNG, "image/png")}).json()
    stolen = {**image, "upload_file_id": theirs["id"]}
    refused = dify.create_chat_message({}, "看看这张", user, files=[stolen])
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_param"
    not_fetched = {**link, "url": "file:///etc/passwd"}
    assert dify.create_chat_message({}, "看看", user, files=[not_fetched]).status_code == 400


@pytest.mark.parametrize(
    ("name", "content", "status", "code"),
    [
        ("a.png", b"", 400, "invalid_param"),
        ("a.png", b"%PDF-1.7 not an image", 415, "unsupported_file_type"),
        ("a.exe", b"MZ\x90\x00", 415, "unsupported_file_type"),
        ("big.png", PNG + b"\x00" * 10_000_001, 413, "request_entity_too_large"),
    ],
)
def test_bad_uploads_are_refused(
    dify: ChatClient, name: str, content: bytes, status: int, code: str
) -> None:
    response = dify.file_upload("sdk-bad-files", {"file": (name, content, "image/png")})
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_conversation_variables_are_the_dialog_state(dify: ChatClient) -> None:
    user = "sdk-variables"
    started = dify.create_chat_message({}, "我要取消订单", user).json()
    conversation_id = started["conversation_id"]
    dify.create_chat_message({}, "amy@example.com", user, conversation_id=conversation_id)
    response = dify._send_request(
        "GET", f"/conversations/{conversation_id}/variables", params={"user": user}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["has_more"] is False and body["limit"] == 20
    variables = {v["name"]: v for v in body["data"]}
    assert "active_flow" in variables, (started["answer"], body)
    assert variables["active_flow"]["value"] == "cancel_order"
    assert variables["cancel_order.email"]["value"] == "amy@example.com"
    assert variables["cancel_order.email"]["value_type"] == "string"
    assert set(variables["active_flow"]) == {
        "id",
        "name",
        "value_type",
        "value",
        "description",
        "created_at",
        "updated_at",
    }
    one = dify._send_request(
        "GET", f"/conversations/{conversation_id}/variables", params={"user": user, "limit": 1}
    ).json()
    assert len(one["data"]) == 1 and one["has_more"] is True
    stranger = dify._send_request(
        "GET", f"/conversations/{conversation_id}/variables", params={"user": "sdk-stranger"}
    )
    assert stranger.status_code == 404 and stranger.json()["code"] == "not_found"


def test_app_feedbacks_list_the_ratings(dify: ChatClient) -> None:
    user = "sdk-app-feedbacks"
    answer = dify.create_chat_message({}, "怎么开发票", user).json()
    dify.message_feedback(answer["message_id"], "dislike", user)
    listed = dify._send_request("GET", "/app/feedbacks", params={"page": 1, "limit": 100})
    assert listed.status_code == 200, listed.text
    mine = [f for f in listed.json()["data"] if f["message_id"] == answer["message_id"]]
    assert len(mine) == 1 and mine[0]["rating"] == "dislike"
    assert mine[0]["conversation_id"] == answer["conversation_id"]


def test_a_flows_tool_call_streams_an_agent_thought(dify: ChatClient) -> None:
    """The order flow calls ``get_order`` (the demo shop is not running here, so the tool
    fails and the flow answers its failure reply): the step comes before the answer."""
    streamed = events(
        dify.create_chat_message(
            {}, "帮我查一下订单 #W2378156 到哪了", "sdk-thought", response_mode="streaming"
        )
    )
    names = [e["event"] for e in streamed]
    assert names[0] == "agent_thought" and names[-1] == "message_end", names
    thought = streamed[0]
    assert thought["tool"] == "get_order" and thought["position"] == 1
    assert json.loads(thought["tool_input"]) == {"order_id": "#W2378156"}
    assert json.loads(thought["observation"])["outcome"] != "ok"
    assert thought["message_id"] == streamed[-1]["message_id"]
    assert {"id", "task_id", "conversation_id", "created_at", "message_files"} <= set(thought)
    history = dify.get_conversation_messages("sdk-thought", thought["conversation_id"]).json()
    stored = history["data"][0]["agent_thoughts"]
    assert [(t["id"], t["tool"], t["position"]) for t in stored] == [
        (thought["id"], "get_order", 1)
    ]
    assert stored[0]["tool_input"] == thought["tool_input"]
