"""An image the customer sent reaches the agent: the conversation view lists it with a
link the agent key opens; other keys cannot."""

from __future__ import annotations

from tests.handoff.conftest import Desk

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


async def test_agent_opens_the_image_the_customer_sent(desk: Desk) -> None:
    customer = {"Authorization": f"Bearer {desk.app_key}"}
    uploaded = await desk.http.post(
        "/v1/files/upload",
        files={"file": ("broken.png", PNG, "image/png")},
        data={"user": "photo"},
        headers=customer,
    )
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    sent = await desk.http.post(
        "/v1/chat-messages",
        json={
            "query": "转人工",
            "user": "photo",
            "response_mode": "blocking",
            "files": [
                {"type": "image", "transfer_method": "local_file", "upload_file_id": file_id}
            ],
        },
        headers=customer,
    )
    assert sent.status_code == 200, sent.text
    agent = await desk.new_agent("looker")
    view = await desk.agent(agent, "GET", f"/conversations/{sent.json()['conversation_id']}")
    assert view.status_code == 200, view.text
    files = [f for m in view.json()["messages"] for f in m["message_files"]]
    assert [(f["id"], f["url"]) for f in files] == [(file_id, f"/v1/agent/files/{file_id}")]

    image = await desk.http.get(files[0]["url"], headers={"Authorization": f"Bearer {agent}"})
    assert image.status_code == 200 and image.content == PNG
    assert image.headers["content-type"] == "image/png"
    with_app_key = await desk.http.get(files[0]["url"], headers=customer)
    assert with_app_key.status_code == 403
    missing = await desk.agent(agent, "GET", "/files/0190a0a0-0000-7000-8000-000000000000")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    # The customer's own history lists it without a URL (the client has the image).
    history = await desk.http.get(
        "/v1/messages",
        params={"user": "photo", "conversation_id": sent.json()["conversation_id"]},
        headers=customer,
    )
    message_files = history.json()["data"][0]["message_files"]
    assert message_files[0]["id"] == file_id and message_files[0]["url"] is None
