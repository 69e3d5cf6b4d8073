"""Uploads, suggestions and conversation variables: the errors a client can cause, each in
the envelope, and the scoping by app and user."""

from __future__ import annotations

import stat
from datetime import timedelta

import httpx

from kefu.services.chat_files import image_kind, purge_files_before
from kefu.services.runtime import Runtime

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
NOT_AN_ID = "0190a0a0-0000-7000-8000-000000000000"


def test_images_are_known_by_their_first_bytes() -> None:
    def extension(content: bytes) -> str | None:
        kind = image_kind(content)
        return kind.extension if kind else None

    assert extension(PNG) == "png"
    assert extension(b"\xff\xd8\xff\xe0rest") == "jpg"
    assert extension(b"GIF89a...") == "gif"
    assert extension(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert extension(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None  # a sound, not an image
    assert extension(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None  # may hold scripts
    assert extension(b"") is None


async def test_bad_upload_requests_get_the_envelope(client: httpx.AsyncClient) -> None:
    no_user = await client.post("/v1/files/upload", files={"file": ("a.png", PNG, "image/png")})
    assert no_user.status_code == 400 and no_user.json()["code"] == "invalid_param"
    no_file = await client.post("/v1/files/upload", data={"user": "u"}, files={"x": ("a", b"1")})
    assert no_file.status_code == 400 and no_file.json()["code"] == "invalid_param"
    as_json = await client.post("/v1/files/upload", json={"user": "u"})
    assert as_json.status_code == 415 and as_json.json()["code"] == "unsupported_media_type"
    control = await client.post(
        "/v1/files/upload", files={"file": ("a.png", PNG, "image/png")}, data={"user": "a\x00b"}
    )
    assert control.status_code == 400


async def test_files_in_a_message_are_checked(client: httpx.AsyncClient, user: str) -> None:
    async def send(files: object) -> httpx.Response:
        return await client.post(
            "/v1/chat-messages",
            json={"query": "看图", "user": user, "response_mode": "blocking", "files": files},
        )

    document = [{"type": "document", "transfer_method": "remote_url", "url": "https://x/a.pdf"}]
    assert (await send(document)).json()["code"] == "unsupported_file_type"
    method = [{"type": "image", "transfer_method": "tool_file", "url": "https://x/a.png"}]
    assert (await send(method)).status_code == 400
    unknown = [{"type": "image", "transfer_method": "local_file", "upload_file_id": NOT_AN_ID}]
    assert (await send(unknown)).json()["code"] == "invalid_param"
    assert (await send(["not an object"])).status_code == 400
    too_many = [{"type": "image", "transfer_method": "remote_url", "url": "https://x/a.png"}] * 11
    assert (await send(too_many)).status_code == 400


async def test_preview_is_scoped_to_the_app(
    client: httpx.AsyncClient, tiny_key: str, user: str
) -> None:
    uploaded = await client.post(
        "/v1/files/upload", files={"file": ("a.png", PNG, "image/png")}, data={"user": user}
    )
    file_id = uploaded.json()["id"]
    assert (await client.get(f"/v1/files/{file_id}/preview")).content == PNG
    other_app = await client.get(
        f"/v1/files/{file_id}/preview", headers={"Authorization": f"Bearer {tiny_key}"}
    )
    assert other_app.status_code == 404 and other_app.json()["code"] == "not_found"
    assert (await client.get("/v1/files/nope/preview")).status_code == 404


async def test_suggestions_can_be_turned_off(
    runtime: Runtime, client: httpx.AsyncClient, user: str
) -> None:
    answer = (
        await client.post(
            "/v1/chat-messages",
            json={"query": "怎么开发票", "user": user, "response_mode": "blocking"},
        )
    ).json()
    path = f"/v1/messages/{answer['message_id']}/suggested"
    assert (await client.get(path, params={"user": user})).json()["data"]
    app = runtime.apps.get("demo-shop")
    config = app.config
    app.config = config.model_copy(update={"suggested_questions_after_answer": False})
    try:
        off = await client.get(path, params={"user": user})
        assert off.status_code == 400 and "turned off" in off.json()["message"]
        parameters = (await client.get("/v1/parameters", params={"user": user})).json()
        assert parameters["suggested_questions_after_answer"] == {"enabled": False}
    finally:
        app.config = config
    await client.request(
        "DELETE", f"/v1/conversations/{answer['conversation_id']}", json={"user": user}
    )
    gone = await client.get(path, params={"user": user})
    assert gone.status_code == 404
    unknown = await client.get(f"/v1/conversations/{NOT_AN_ID}/variables", params={"user": user})
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


async def test_retention_forgets_old_images(
    runtime: Runtime, client: httpx.AsyncClient, tiny_key: str, user: str
) -> None:
    uploaded = await client.post(
        "/v1/files/upload",
        files={"file": ("a.png", PNG, "image/png")},
        data={"user": user},
        headers={"Authorization": f"Bearer {tiny_key}"},
    )
    file_id = uploaded.json()["id"]
    app = runtime.apps.get("tiny")
    stored = runtime.store.files.get(file_id)
    assert stored is not None and stored.path is not None
    on_disk = runtime.settings.data_dir / "uploads" / stored.path
    assert on_disk.read_bytes() == PNG
    assert stat.S_IMODE(on_disk.stat().st_mode) == 0o600  # the customer's, kefu's user only
    assert (
        purge_files_before(runtime.store, runtime.settings.data_dir, app.id, stored.created_at) == 0
    )
    later = stored.created_at + timedelta(seconds=1)
    assert purge_files_before(runtime.store, runtime.settings.data_dir, app.id, later) >= 1
    assert runtime.store.files.get(file_id) is None and not on_disk.exists()
