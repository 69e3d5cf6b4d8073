"""Keys through the admin API, rate limits, the concurrency cap, CORS, audit, retention."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from kefu.core.ids import utcnow
from kefu.services.runtime import Runtime
from kefu.store.models import ConversationRow, MessageRow
from tests.conftest import ADMIN_KEY, FIXTURES, backend_settings
from tests.servers import in_process_client

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
TINY = FIXTURES / "apps" / "tiny"


@pytest.fixture
def guarded(request: pytest.FixtureRequest, db_backend: str, tmp_path: Path) -> Iterator[Runtime]:
    """A small app with tight limits, CORS for one origin, and 30-day retention."""
    app_file = tmp_path / "guarded.yaml"
    app_file.write_text(
        f"""
name: guarded
language: en
knowledge: {{faq: ["{TINY / "faq.jsonl"}"]}}
security:
  cors_origins: ["https://shop.example"]
  key_rate_per_s: 1
  key_burst: 8
  user_rate_per_s: 0.5
  user_burst: 3
  retention_days: 30
""",
        encoding="utf-8",
    )
    runtime = Runtime.build(backend_settings(request, db_backend, tmp_path / "data"), [app_file])
    yield runtime
    runtime.close()


@pytest.fixture
async def http(guarded: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(guarded) as client:
        yield client


async def new_key(http: httpx.AsyncClient, kind: str = "app") -> dict:
    response = await http.post("/admin/apps/guarded/keys", json={"kind": kind}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


def ask(key: str, user: str) -> dict:
    return {
        "url": "/v1/chat-messages",
        "json": {"query": "When are you open?", "user": user, "response_mode": "blocking"},
        "headers": {"Authorization": f"Bearer {key}"},
    }


async def test_key_lifecycle_create_list_rotate_revoke(http: httpx.AsyncClient) -> None:
    created = await new_key(http)
    assert created["key"].startswith("app-") and created["prefix"] == created["key"][:10]
    listed = (await http.get("/admin/apps/guarded/keys", headers=ADMIN)).json()["data"]
    assert created["id"] in {k["id"] for k in listed}
    assert all("key" not in k for k in listed), "listing shows prefixes only"
    assert (await http.post(**ask(created["key"], "a"))).status_code == 200

    rotated = (
        await http.post(f"/admin/apps/guarded/keys/{created['id']}/rotate", headers=ADMIN)
    ).json()
    assert rotated["key"] != created["key"]
    assert (await http.post(**ask(created["key"], "b"))).status_code == 401
    assert (await http.post(**ask(rotated["key"], "b"))).status_code == 200

    revoke = await http.delete(f"/admin/apps/guarded/keys/{rotated['id']}", headers=ADMIN)
    assert revoke.json() == {"result": "success"}
    assert (await http.post(**ask(rotated["key"], "c"))).status_code == 401
    again = await http.delete(f"/admin/apps/guarded/keys/{rotated['id']}", headers=ADMIN)
    assert again.status_code == 404

    dataset = await new_key(http, "dataset")
    refused = await http.post(**ask(dataset["key"], "d"))
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert (await http.get("/admin/apps", headers={"Authorization": f"Bearer {dataset['key']}"})
            ).status_code == 401  # fmt: skip

    audit = (await http.get("/admin/audit", headers=ADMIN)).json()["data"]
    actions = [e["action"] for e in audit]
    assert actions[:4] == ["key.create", "key.revoke", "key.rotate", "key.create"]
    assert all(e["actor"] == "admin" and e["target"] == "guarded" for e in audit[:4])
    assert all(created["key"] not in str(e) for e in audit), "secrets never reach the log"


async def test_admin_key_errors(http: httpx.AsyncClient) -> None:
    bad_kind = await http.post("/admin/apps/guarded/keys", json={"kind": "root"}, headers=ADMIN)
    assert bad_kind.status_code == 400 and bad_kind.json()["code"] == "invalid_param"
    missing = await http.post("/admin/apps/nope/keys", json={}, headers=ADMIN)
    assert missing.status_code == 404
    no_key = await http.post("/admin/apps/guarded/keys/not-an-id/rotate", headers=ADMIN)
    assert no_key.status_code == 404


async def test_end_user_rate_limit_gives_429_with_retry_after(http: httpx.AsyncClient) -> None:
    key = (await new_key(http))["key"]
    statuses = [(await http.post(**ask(key, "chatty"))).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = await http.post(**ask(key, "chatty"))
    assert limited.json()["code"] == "too_many_requests"
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await http.post(**ask(key, "someone-else"))).status_code == 200


async def test_key_rate_limit(http: httpx.AsyncClient) -> None:
    key = (await new_key(http))["key"]
    statuses = [
        (await http.get("/v1/parameters", headers={"Authorization": f"Bearer {key}"})).status_code
        for _ in range(10)
    ]
    assert statuses[:8] == [200] * 8 and statuses[8:] == [429, 429]


async def test_concurrency_cap(guarded: Runtime, http: httpx.AsyncClient) -> None:
    key = (await new_key(http))["key"]
    app = guarded.apps.get("guarded")
    guarded.chat._active[app.id] = app.config.security.max_concurrent_turns
    try:
        busy = await http.post(**ask(key, "cap"))
        assert busy.status_code == 429 and busy.json()["code"] == "too_many_requests"
    finally:
        guarded.chat._active[app.id] = 0
    assert (await http.post(**ask(key, "cap"))).status_code == 200


async def test_cors_allows_only_the_configured_origin(http: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = await http.options(
        "/v1/chat-messages", headers={"Origin": "https://shop.example", **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    denied = await http.options(
        "/v1/chat-messages", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in denied.headers


async def test_retention_deletes_old_messages_only(
    guarded: Runtime, http: httpx.AsyncClient
) -> None:
    key = (await new_key(http))["key"]
    old = (await http.post(**ask(key, "old"))).json()
    new = (await http.post(**ask(key, "new"))).json()
    app = guarded.apps.get("guarded")
    long_ago = utcnow() - timedelta(days=40)
    with guarded.store.engine.begin() as connection:
        connection.execute(
            update(MessageRow).where(MessageRow.id == old["message_id"]).values(created_at=long_ago)
        )
        connection.execute(
            update(ConversationRow)
            .where(ConversationRow.id == old["conversation_id"])
            .values(updated_at=long_ago)
        )
    result = (await http.post("/admin/retention/run", headers=ADMIN)).json()
    assert result["deleted"]["guarded"] == {
        "messages": 1,
        "traces": 1,
        "conversations": 1,
        "files": 0,
        "offers": 0,
    }
    assert guarded.store.conversations.get_message(app.id, old["message_id"]) is None
    assert guarded.store.conversations.get_trace(old["message_id"]) is None
    assert guarded.store.conversations.get_message(app.id, new["message_id"]) is not None
    audit = (await http.get("/admin/audit", headers=ADMIN)).json()["data"]
    assert audit[0]["action"] == "retention.run"
