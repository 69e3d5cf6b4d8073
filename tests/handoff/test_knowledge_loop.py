"""The knowledge loop through the real APIs: unanswered and disliked questions grouped by
meaning (zh and en), a draft, promotion as an FAQ entry or an annotation in one call, the
re-check that takes the answered questions out of the gap report, and an agent's reply
saved as an answer."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import DEMO_KEY
from tests.handoff.conftest import Desk, admin_headers

DIGITAL_YUAN = ["你们支持数字人民币吗", "你们支持数字人民币吗", "数字人民币能用吗",
                "Do you accept digital yuan?"]  # fmt: skip
ANSWER = "支持。结账时选择“数字人民币”即可付款。"


async def gaps(desk: Desk) -> dict[str, Any]:
    response = await desk.http.get("/admin/apps/desk/knowledge-gaps", headers=admin_headers())
    assert response.status_code == 200, response.text
    return dict(response.json())


def group_of(report: dict[str, Any], text: str) -> dict[str, Any] | None:
    for group in report["data"]:
        if text == group["question"] or text in group["examples"]:
            return dict(group)
    return None


async def test_gaps_are_grouped_by_meaning_promoted_and_rechecked(desk: Desk) -> None:
    for n, question in enumerate(DIGITAL_YUAN):
        await desk.ask(f"loop-{n}", question)
    await desk.ask("loop-q", "量子纠缠怎么解释")
    liked = await desk.ask("loop-dislike", "When are you open?")  # an FAQ answer…
    disliked = await desk.http.post(
        f"/v1/messages/{liked['message_id']}/feedbacks",
        json={"rating": "dislike", "user": "loop-dislike"},
        headers={"Authorization": f"Bearer {desk.app_key}"},
    )  # …that the customer disliked
    assert disliked.status_code == 200

    before = await gaps(desk)
    group = group_of(before, "你们支持数字人民币吗")
    assert group is not None and group["count"] == 4, before
    # "Do you accept digital yuan?" shares no word with the Chinese: joined by meaning
    assert "Do you accept digital yuan?" in group["examples"]
    assert group_of(before, "量子纠缠怎么解释") is not group
    hours = group_of(before, "When are you open?")
    assert hours is not None and hours["disliked"] == 1

    promoted = await desk.http.post(
        "/admin/apps/desk/knowledge-gaps/promote",
        json={"question": "你们支持数字人民币吗", "answer": ANSWER,
              "variants": group["examples"], "as": "faq"},
        headers=admin_headers(),
    )  # fmt: skip
    assert promoted.status_code == 201, promoted.text
    result = promoted.json()
    assert result["as"] == "faq" and result["now_answered"] == 4
    assert result["rechecked"] >= 6  # the four, the quantum question, the disliked one

    after = await gaps(desk)
    assert group_of(after, "你们支持数字人民币吗") is None
    assert after["questions"] == before["questions"] - 4
    assert group_of(after, "量子纠缠怎么解释") is not None  # not answered by it

    again = await desk.ask("loop-new", "可以用数字人民币付款吗")
    assert again["answer"] == ANSWER


async def test_promoting_an_annotation_switches_annotation_reply_on(desk: Desk) -> None:
    await desk.ask("loop-parcel", "你们的包裹用什么纸箱")
    answer = "我们使用可回收的瓦楞纸箱。"
    promoted = await desk.http.post(
        "/admin/apps/desk/knowledge-gaps/promote",
        json={"question": "你们的包裹用什么纸箱", "answer": answer, "as": "annotation"},
        headers=admin_headers(),
    )
    assert promoted.status_code == 201, promoted.text
    assert promoted.json()["annotation_reply_enabled"] is True
    assert promoted.json()["now_answered"] == 1
    again = await desk.ask("loop-parcel-2", "你们的包裹用什么纸箱")
    assert again["answer"] == answer


async def test_an_agents_reply_is_saved_as_an_answer(desk: Desk) -> None:
    first = await desk.ask("loop-invoice", "电子发票在哪里下载")
    cid = first["conversation_id"]
    await desk.ask("loop-invoice", "转人工", cid)
    agent = await desk.new_agent("loop-lin", ["desk"])
    reply = "在“我的订单”里打开订单，点“下载电子发票”即可。"
    sent = await desk.agent(agent, "POST", f"/conversations/{cid}/reply", json={"text": reply})
    assert sent.status_code == 200, sent.text
    saved = await desk.agent(
        agent,
        "POST",
        f"/conversations/{cid}/save-answer",
        json={"question": "电子发票在哪里下载", "answer": reply},
    )
    assert saved.status_code == 201, saved.text
    assert saved.json()["now_answered"] >= 1
    asked = await desk.ask("loop-invoice-2", "电子发票在哪里下载")
    assert asked["answer"] == reply

    as_customer = await desk.agent(
        desk.app_key, "POST", f"/conversations/{cid}/save-answer",
        json={"question": "x", "answer": "y"},
    )  # fmt: skip
    assert as_customer.status_code == 403, as_customer.text


async def test_bad_promotions_get_the_envelope(desk: Desk) -> None:
    url = "/admin/apps/desk/knowledge-gaps/promote"
    for body in [
        {"question": "q", "answer": "   "},
        {"question": "", "answer": "a"},
        {"question": "q", "answer": "a", "as": "wiki"},
        {"question": "q", "answer": "a", "variants": [f"v{n}" for n in range(21)]},
        {"question": "q", "answer": "a", "extra": 1},
        {"question": "q" * 4001, "answer": "a"},
    ]:
        response = await desk.http.post(url, json=body, headers=admin_headers())
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] and response.json()["message"]
    missing = await desk.http.post(
        "/admin/apps/nope/knowledge-gaps/promote",
        json={"question": "q", "answer": "a"},
        headers=admin_headers(),
    )
    assert missing.status_code == 404


async def test_a_draft_is_the_best_passage_without_a_model(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/admin/apps/demo-shop/knowledge-gaps/draft",
        json={"question": "退货的运费由谁承担"},
        headers=admin_headers(),
    )
    assert response.status_code == 200, response.text
    draft = response.json()
    assert draft["kind"] == "passage" and "运费" in draft["draft"] and draft["sources"]
    as_app = await client.post(
        "/admin/apps/demo-shop/knowledge-gaps/draft",
        json={"question": "x"},
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
    )
    assert as_app.status_code in (401, 403)
