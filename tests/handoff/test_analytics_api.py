"""Service analytics over a history made through the real APIs: customers ask, like and
dislike, ask for a human; an agent takes one conversation and resolves it; CSAT."""

from __future__ import annotations

import csv
import io

from tests.handoff.conftest import Desk, admin_headers


async def make_history(desk: Desk) -> None:
    a = await desk.ask("an-a", "What are your opening hours?")
    liked = await desk.http.post(
        f"/v1/messages/{a['message_id']}/feedbacks",
        json={"rating": "like", "user": "an-a"},
        headers={"Authorization": f"Bearer {desk.app_key}"},
    )
    assert liked.status_code == 200, liked.text

    b = await desk.ask("an-b", "When are you open?")
    b2 = await desk.ask("an-b", "转人工", b["conversation_id"])
    cid = b2["conversation_id"]
    agent = await desk.new_agent("analytics-amy")
    assert (await desk.agent(agent, "POST", f"/conversations/{cid}/claim")).status_code == 200
    assert (await desk.agent(agent, "POST", f"/conversations/{cid}/resolve")).status_code == 200
    rated = await desk.http.post(
        f"/v1/conversations/{cid}/csat",
        json={"user": "an-b", "rating": 4},
        headers={"Authorization": f"Bearer {desk.app_key}"},
    )
    assert rated.status_code == 200, rated.text

    c = await desk.ask("an-c", "量子纠缠怎么解释")
    disliked = await desk.http.post(
        f"/v1/messages/{c['message_id']}/feedbacks",
        json={"rating": "dislike", "user": "an-c"},
        headers={"Authorization": f"Bearer {desk.app_key}"},
    )
    assert disliked.status_code == 200, disliked.text

    await desk.ask("an-d", "转人工")  # waits in the queue: nobody takes it


async def test_figures_match_the_history_made_through_the_api(desk: Desk) -> None:
    await make_history(desk)
    response = await desk.http.get(
        "/admin/apps/desk/analytics", params={"tz": "UTC"}, headers=admin_headers()
    )
    assert response.status_code == 200, response.text
    report = response.json()
    total = report["total"]
    assert (total["conversations"], total["contained"], total["handed_over"]) == (4, 2, 2)
    assert total["containment_rate"] == 0.5
    assert {r["reason"]: r["count"] for r in report["handoff_reasons"]} == {"customer_request": 2}
    # a, b ×2, c and d's request: five bot answers; c's was the fallback
    assert (total["bot_answers"], total["fallbacks"]) == (5, 1)
    assert (total["likes"], total["dislikes"]) == (1, 1)
    assert (total["csat_count"], total["csat_avg"]) == (1, 4.0)
    assert (total["taken"], total["handled"]) == (1, 1)
    assert total["avg_handling_s"] is not None and 0 <= total["avg_handling_s"] < 60
    [agent] = report["agents"]
    assert (agent["name"], agent["handled"], agent["csat_avg"]) == ("analytics-amy", 1, 4.0)
    assert [d["day"] for d in report["days"]][-1] == report["to"]
    assert len(report["days"]) == 7
    assert report["unanswered"][0]["question"] == "量子纠缠怎么解释"

    exported = await desk.http.get(
        "/admin/apps/desk/analytics.csv", params={"tz": "UTC"}, headers=admin_headers()
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[-1]["day"] == "total" and rows[-1]["conversations"] == "4"


async def test_bad_requests_get_the_envelope(desk: Desk) -> None:
    for params, status in [
        ({"from": "yesterday"}, 400),
        ({"tz": "Mars/Olympus"}, 400),
        ({"from": "2020-01-01", "to": "2026-01-01"}, 400),
        ({"from": "2026-12-05", "to": "2026-12-01"}, 400),
        ({"from": "x" * 500}, 400),
    ]:
        response = await desk.http.get(
            "/admin/apps/desk/analytics", params=params, headers=admin_headers()
        )
        assert response.status_code == status, (params, response.text)
        body = response.json()
        assert body["status"] == status and body["code"] and body["message"]
    missing = await desk.http.get("/admin/apps/nope/analytics", headers=admin_headers())
    assert missing.status_code == 404 and missing.json()["code"]
    as_app = await desk.http.get(
        "/admin/apps/desk/analytics", headers={"Authorization": f"Bearer {desk.app_key}"}
    )
    assert as_app.status_code in (401, 403)
