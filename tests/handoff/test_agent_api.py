"""The agent and admin APIs: keys, permissions, errors in the envelope, notes, transfer,
traces and tickets."""

from __future__ import annotations

from tests.conftest import ADMIN_KEY
from tests.handoff.conftest import Desk, admin_headers


async def waiting_conversation(desk: Desk, user: str) -> str:
    first = await desk.ask(user, "What are your opening hours?")
    answer = await desk.ask(user, "转人工", first["conversation_id"])
    return str(answer["conversation_id"])


async def test_keys_decide_who_may_call(desk: Desk) -> None:
    anonymous = await desk.http.get("/v1/agent/inbox")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
    with_app_key = await desk.agent(desk.app_key, "GET", "/inbox")
    assert with_app_key.status_code == 403 and with_app_key.json()["code"] == "forbidden"
    unknown = await desk.agent("agent-nope", "GET", "/inbox")
    assert unknown.status_code == 401
    as_admin = await desk.agent(ADMIN_KEY, "GET", "/me")
    assert as_admin.json()["name"] == "admin"
    agent_on_admin_api = await desk.http.get(
        "/admin/agents", headers={"Authorization": f"Bearer {await desk.new_agent('nosy')}"}
    )
    assert agent_on_admin_api.status_code == 401


async def test_admin_creates_rotates_and_disables_agents(desk: Desk) -> None:
    created = await desk.http.post(
        "/admin/agents", json={"name": "rota", "apps": ["*"]}, headers=admin_headers()
    )
    body = created.json()
    assert body["key"].startswith("agent-") and body["key_prefix"] == body["key"][:10]
    duplicate = await desk.http.post(
        "/admin/agents", json={"name": "rota", "apps": ["*"]}, headers=admin_headers()
    )
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "conflict"
    bad_app = await desk.http.post(
        "/admin/agents", json={"name": "x", "apps": ["nope"]}, headers=admin_headers()
    )
    assert bad_app.status_code == 400
    rotated = await desk.http.post(f"/admin/agents/{body['id']}/key", headers=admin_headers())
    assert (await desk.agent(body["key"], "GET", "/me")).status_code == 401
    assert (await desk.agent(rotated.json()["key"], "GET", "/me")).status_code == 200
    gone = await desk.http.delete(f"/admin/agents/{body['id']}", headers=admin_headers())
    assert gone.status_code == 200
    assert (await desk.agent(rotated.json()["key"], "GET", "/me")).status_code == 401
    listed = (await desk.http.get("/admin/agents", headers=admin_headers())).json()["data"]
    assert next(a for a in listed if a["id"] == body["id"])["disabled"] is True


async def test_agents_only_see_the_apps_they_serve(desk: Desk) -> None:
    cid = await waiting_conversation(desk, "scoped")
    other = await desk.new_agent("elsewhere", ["desk"])
    assert (await desk.agent(other, "GET", f"/conversations/{cid}")).status_code == 200
    # An agent of no loaded app would be refused; an agent of "desk" sees the desk inbox.
    inbox = (await desk.agent(other, "GET", "/inbox", params={"state": "pending_human"})).json()
    assert cid in [i["conversation_id"] for i in inbox["data"]]


async def test_claim_conflicts_notes_transfer_and_resolve(desk: Desk) -> None:
    cid = await waiting_conversation(desk, "busy")
    amy, ben = await desk.new_agent("amy"), await desk.new_agent("ben")
    ben_id = (await desk.agent(ben, "GET", "/me")).json()["id"]
    assert (await desk.agent(amy, "POST", f"/conversations/{cid}/claim")).status_code == 200
    second = await desk.agent(ben, "POST", f"/conversations/{cid}/claim")
    assert second.status_code == 409 and set(second.json()) == {"status", "code", "message"}
    assert (await desk.agent(ben, "POST", f"/conversations/{cid}/reply",
                             json={"text": "hi"})).status_code == 409  # fmt: skip

    note = await desk.agent(amy, "POST", f"/conversations/{cid}/notes", json={"text": "VIP 客户"})
    assert note.status_code == 201
    moved = await desk.agent(
        amy, "POST", f"/conversations/{cid}/transfer", json={"agent_id": ben_id}
    )
    assert moved.json()["assigned_agent_id"] == ben_id
    view = (await desk.agent(ben, "GET", f"/conversations/{cid}")).json()
    assert (
        view["notes"][0]["text"] == "VIP 客户"
        and view["handoff_note"]["reason"] == "customer_request"
    )
    assert [m["route"] for m in view["messages"]] == ["faq", "handoff"]
    customer_side = await desk.http.get(
        "/v1/messages", params={"conversation_id": cid, "user": "busy"},
        headers={"Authorization": f"Bearer {desk.app_key}"},
    )  # fmt: skip
    assert "VIP" not in customer_side.text  # internal notes stay internal

    trace = await desk.agent(ben, "GET", f"/messages/{view['messages'][0]['id']}/trace")
    assert trace.status_code == 200 and trace.json()["route"] == "faq"
    assert {s["name"] for s in trace.json()["stages"]} >= {"understand", "route", "plan"}

    back = await desk.agent(ben, "POST", f"/conversations/{cid}/transfer", json={"agent_id": None})
    assert back.json()["handoff_state"] == "pending_human"
    assert (await desk.agent(amy, "POST", f"/conversations/{cid}/resolve")).status_code == 200
    again = await desk.agent(amy, "POST", f"/conversations/{cid}/resolve")
    assert again.status_code == 409


async def test_tickets_from_a_conversation(desk: Desk) -> None:
    cid = await waiting_conversation(desk, "ticketed")
    key = await desk.new_agent("tina")
    made = await desk.agent(key, "POST", "/tickets", json={
        "conversation_id": cid, "title": "退款 800 元待财务审核", "priority": "high",
        "description": "顾客要求原路退回",
    })  # fmt: skip
    assert made.status_code == 201, made.text
    ticket = made.json()
    assert (ticket["status"], ticket["priority"], ticket["created_by"]) == ("open", "high", "tina")
    me = (await desk.agent(key, "GET", "/me")).json()["id"]
    patched = await desk.agent(key, "PATCH", f"/tickets/{ticket['id']}",
                               json={"status": "pending", "assignee_id": me})  # fmt: skip
    assert (patched.json()["status"], patched.json()["assignee_id"]) == ("pending", me)
    mine = (await desk.agent(key, "GET", "/tickets", params={"mine": "true"})).json()["data"]
    assert [t["id"] for t in mine] == [ticket["id"]]
    invalid = await desk.agent(key, "PATCH", f"/tickets/{ticket['id']}", json={"status": "done"})
    assert invalid.status_code == 400 and invalid.json()["code"] == "invalid_param"
    null_title = await desk.agent(key, "PATCH", f"/tickets/{ticket['id']}", json={"title": None})
    assert null_title.status_code == 400
    missing = await desk.agent(key, "GET", "/tickets/not-an-id")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    no_target = await desk.agent(key, "POST", "/tickets", json={"title": "x"})
    assert no_target.status_code == 400


async def test_csat_only_after_an_agent_resolved(desk: Desk) -> None:
    cid = await waiting_conversation(desk, "rater")
    early = await desk.http.post(
        f"/v1/conversations/{cid}/csat", json={"user": "rater", "rating": 4},
        headers={"Authorization": f"Bearer {desk.app_key}"},
    )  # fmt: skip
    assert early.status_code == 400
    out_of_range = await desk.http.post(
        f"/v1/conversations/{cid}/csat", json={"user": "rater", "rating": 9},
        headers={"Authorization": f"Bearer {desk.app_key}"},
    )  # fmt: skip
    assert out_of_range.status_code == 400
    stranger = await desk.http.post(
        f"/v1/conversations/{cid}/csat", json={"user": "someone-else", "rating": 4},
        headers={"Authorization": f"Bearer {desk.app_key}"},
    )  # fmt: skip
    assert stranger.status_code == 404


async def test_an_agent_must_name_the_apps_it_serves(desk: Desk) -> None:
    created = await desk.http.post(
        "/admin/agents", json={"name": "unscoped"}, headers=admin_headers()
    )
    assert created.status_code == 400 and created.json()["code"] == "invalid_param"
    assert '["*"]' in created.json()["message"]


async def test_agents_see_only_colleagues_of_their_apps(desk: Desk) -> None:
    mine = await desk.new_agent("desk-only", ["desk"])
    # Another app's agent (this runtime serves only "desk": written to the store directly).
    desk.runtime.store.agents.create("tiny-only", ["tiny"])
    await desk.new_agent("everywhere", ["*"])
    listed = (await desk.agent(mine, "GET", "/agents")).json()["data"]
    names = {agent["name"] for agent in listed}
    assert {"desk-only", "everywhere"} <= names and "tiny-only" not in names
