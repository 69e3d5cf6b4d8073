"""Page sessions: a public app's page gets a signed session for one generated visitor, which
reaches that visitor's conversations and the chat endpoints only (issue 17, H1)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from kefu.services.runtime import Runtime
from kefu.services.sessions import PageSessions
from tests.conftest import ADMIN_KEY, FIXTURES, make_settings
from tests.servers import in_process_client

TINY = FIXTURES / "apps" / "tiny"
SHOP_ORIGIN = "https://shop.example"


@pytest.fixture
def sessions_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """A public app (one allowed origin, tight session limits) and a private one."""
    for name, web in (
        ("public-shop", f'{{public: true, allowed_origins: ["{SHOP_ORIGIN}"], session_burst: 6}}'),
        ("back-office", "{public: false}"),
    ):
        (tmp_path / f"{name}.yaml").write_text(
            f'name: {name}\nlanguage: en\nknowledge: {{faq: ["{TINY / "faq.jsonl"}"]}}\n'
            f"web: {web}\n",
            encoding="utf-8",
        )
    runtime = Runtime.build(
        make_settings(tmp_path / "data", ip_burst=1000),
        [tmp_path / "public-shop.yaml", tmp_path / "back-office.yaml"],
    )
    yield runtime
    runtime.close()


@pytest.fixture
async def http(sessions_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(sessions_runtime) as client:
        yield client


async def open_session(http: httpx.AsyncClient, **headers: str) -> dict:
    reply = await http.post("/web/session", json={"app": "public-shop"}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def ask(http: httpx.AsyncClient, token: str, **body: str) -> httpx.Response:
    payload = {"query": "When are you open?", "response_mode": "blocking", **body}
    return await http.post("/v1/chat-messages", json=payload, headers=bearer(token))


async def test_only_public_apps_have_a_page(http: httpx.AsyncClient) -> None:
    config = await http.get("/web/config")
    assert config.json()["app"] == "public-shop" and "token" not in config.json()
    for path, call in (
        ("/web/config?app=back-office", http.get("/web/config?app=back-office")),
        ("/web/session", http.post("/web/session", json={"app": "back-office"})),
    ):
        refused = await call
        assert refused.status_code == 404, path
        assert refused.json() == {
            "status": 404,
            "code": "not_found",
            "message": "no public app named 'back-office'",
        }


async def test_a_session_is_one_visitor_and_reaches_only_their_conversations(
    http: httpx.AsyncClient,
) -> None:
    alice, bob = await open_session(http), await open_session(http)
    assert alice["user"] != bob["user"] and alice["user"].startswith("web-")
    answered = await ask(http, alice["token"])
    assert answered.status_code == 200, answered.text
    mine = await http.get("/v1/conversations", headers=bearer(alice["token"]))
    assert [c["id"] for c in mine.json()["data"]] == [answered.json()["conversation_id"]]
    # Bob's session sees nothing of Alice's, even naming her…
    assert (await http.get("/v1/conversations", headers=bearer(bob["token"]))).json()["data"] == []
    claimed = await http.get(
        "/v1/conversations", params={"user": alice["user"]}, headers=bearer(bob["token"])
    )
    assert claimed.status_code == 403
    assert claimed.json()["message"] == "user does not match the page session of this request"
    # …nor her conversation by id.
    cid = answered.json()["conversation_id"]
    history = await http.get(
        "/v1/messages", params={"conversation_id": cid}, headers=bearer(bob["token"])
    )
    assert history.status_code == 404
    rename = await http.post(
        f"/v1/conversations/{cid}/name", json={"name": "mine"}, headers=bearer(bob["token"])
    )
    assert rename.status_code == 404


async def test_a_session_cannot_reach_keys_knowledge_admin_or_openai(
    http: httpx.AsyncClient,
) -> None:
    token = (await open_session(http))["token"]
    for method, path, body in (
        ("GET", "/v1/datasets", None),
        ("GET", "/v1/apps/annotations", None),
        ("GET", "/v1/models", None),
        ("POST", "/v1/chat/completions", {"model": "public-shop", "messages": []}),
        ("GET", "/admin/apps", None),
    ):
        reply = await http.request(method, path, json=body, headers=bearer(token))
        assert reply.status_code in (401, 403), (path, reply.status_code)


async def test_renewal_keeps_the_visitor_and_a_forged_or_expired_one_does_not(
    http: httpx.AsyncClient, sessions_runtime: Runtime
) -> None:
    first = await open_session(http)
    renewed = await open_session(http, **bearer(first["token"]))
    assert renewed["user"] == first["user"] and renewed["token"] != first["token"]
    forged = first["token"][:-4] + ("AAAA" if not first["token"].endswith("AAAA") else "BBBB")
    assert (await open_session(http, **bearer(forged)))["user"] != first["user"]
    refused = await ask(http, forged)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    # An expired session is refused on the API, and renewed while within its maximum age.
    clock = [1_000_000.0]
    sessions = PageSessions(b"s" * 32, ttl_s=60, max_age_s=600, clock=lambda: clock[0])
    token, session = sessions.issue("public-shop")
    clock[0] += 61
    with pytest.raises(Exception, match="invalid or expired"):
        sessions.verify(token)
    assert sessions.issue("public-shop", token)[1].user == session.user
    clock[0] += 600
    assert sessions.issue("public-shop", token)[1].user != session.user  # too old: a new visitor
    assert sessions.issue("other-app", token)[1].user != session.user  # bound to its app


async def test_origins_cors_and_the_session_limit(http: httpx.AsyncClient) -> None:
    preflight = await http.options(
        "/web/session",
        headers={
            "Origin": SHOP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == SHOP_ORIGIN
    from_shop = await open_session(http, Origin=SHOP_ORIGIN)
    elsewhere = await http.post(
        "/web/session", json={"app": "public-shop"}, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403 and "web.allowed_origins" in elsewhere.json()["message"]
    stolen = await ask(http, from_shop["token"], user="")
    assert stolen.status_code == 200  # no Origin: not a browser on another site
    replayed = await http.get(
        "/v1/parameters", headers={**bearer(from_shop["token"]), "Origin": "https://evil.example"}
    )
    assert replayed.status_code == 403
    # Each session has its own bucket: one visitor's burst does not slow another.
    noisy, quiet = await open_session(http), await open_session(http)
    statuses = [
        (await http.get("/v1/parameters", headers=bearer(noisy["token"]))).status_code
        for _ in range(8)
    ]
    assert statuses.count(429) >= 2
    limited = await http.get("/v1/parameters", headers=bearer(noisy["token"]))
    assert limited.status_code == 429 and limited.json()["retry_after"] >= 1
    assert limited.headers["Retry-After"] == str(limited.json()["retry_after"])
    assert (await http.get("/v1/parameters", headers=bearer(quiet["token"]))).status_code == 200


async def test_admin_key_is_not_needed_for_a_session(http: httpx.AsyncClient) -> None:
    """The page needs no key at all; the admin API still takes only the admin key."""
    session = await open_session(http)
    listed = await http.get("/admin/apps", headers=bearer(ADMIN_KEY))
    assert listed.status_code == 200
    assert (await http.get("/admin/apps", headers=bearer(session["token"]))).status_code == 401
