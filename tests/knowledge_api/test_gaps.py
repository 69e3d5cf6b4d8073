"""Knowledge gaps: unanswered questions mined from stored turns, near-duplicates grouped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from kefu.core.records import AskedQuestion
from kefu.services.knowledge_gaps import find_gaps, group_questions, is_gap
from kefu.services.runtime import Runtime
from tests.conftest import ADMIN_KEY

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def asked(query: str, route: str = "fallback", minutes: int = 0, **record: Any) -> AskedQuestion:
    stages = [{"name": "route", **record}] if record else []
    return AskedQuestion(query, query, route, NOW - timedelta(minutes=minutes), {"stages": stages})


async def test_gaps_group_what_the_bot_could_not_answer(
    service: httpx.AsyncClient, kb_runtime: Runtime
) -> None:
    questions = [
        "Do you sell bicycles?",
        "do you sell bicycles",
        "Can I buy a bicycle here?",
        "Do you sell bicycles?",
        "Do you ship to Mars?",
        "shipping to mars?",
        "What are your opening hours?",  # answered by the FAQ: not a gap
        "Does the warranty cover limescale damage?",  # answered from the warranty document
    ]
    for n, query in enumerate(questions):
        response = await service.post(
            "/v1/chat-messages",
            json={"query": query, "user": f"gap-user-{n}", "response_mode": "blocking"},
        )
        assert response.status_code == 200, response.text
    report = await service.get("/admin/apps/tiny/knowledge-gaps", headers=ADMIN)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["app"] == "tiny" and body["days"] == 7 and body["questions"] == 6
    bicycles, mars = body["data"]
    assert bicycles["question"] == "Do you sell bicycles?" and bicycles["count"] == 4
    assert set(bicycles["examples"]) == {"Can I buy a bicycle here?"}
    assert mars["count"] == 2 and mars["last_asked_at"] >= bicycles["last_asked_at"]
    assert 0 <= bicycles["best_score"] < kb_runtime.apps.get("tiny").config.knowledge.faq_threshold
    trace = await service.get(f"/admin/messages/{mars['message_ids'][0]}/trace", headers=ADMIN)
    assert trace.json()["route"] == "fallback"

    limited = await service.get(
        "/admin/apps/tiny/knowledge-gaps", params={"days": 1, "limit": 1}, headers=ADMIN
    )
    assert [g["count"] for g in limited.json()["data"]] == [4]
    app = kb_runtime.apps.get("tiny")
    later = find_gaps(
        kb_runtime.store, app.id, "tiny", 7, 20, now=datetime.now(UTC) + timedelta(days=8)
    )
    assert later.questions == 0 and later.groups == []  # outside the window


async def test_gap_endpoint_errors(service: httpx.AsyncClient) -> None:
    assert (await service.get("/admin/apps/tiny/knowledge-gaps")).status_code == 401  # app key
    missing = await service.get("/admin/apps/nope/knowledge-gaps", headers=ADMIN)
    assert missing.status_code == 404
    bad = await service.get("/admin/apps/tiny/knowledge-gaps", params={"days": 0}, headers=ADMIN)
    assert bad.status_code == 400


def test_what_counts_as_a_gap() -> None:
    thresholds = {"faq_threshold": 0.55, "passage_threshold": 0.3}
    weak_faq = [{"relevance": 0.4}]
    assert is_gap(asked("q", "fallback"))
    assert is_gap(asked("q", "generate", faq_candidates=weak_faq, passage_candidates=[],
                        **thresholds))  # fmt: skip
    assert not is_gap(asked("q", "generate", faq_candidates=weak_faq,
                            passage_candidates=[{"relevance": 0.5}], **thresholds))  # fmt: skip
    # Low confidence that triggered a hand-over is a gap; asking for a human is not.
    assert is_gap(asked("q", "handoff", faq_candidates=weak_faq, **thresholds))
    assert not is_gap(asked("转人工", "handoff"))


def test_grouping_chinese_and_english_near_duplicates() -> None:
    questions = [
        asked("可以开发票吗", minutes=1),
        asked("能开发票吗？", minutes=2),
        asked("怎么开具发票", minutes=3),
        asked("发票抬头怎么改", minutes=4),
        asked("你们卖自行车吗", minutes=5),
        asked("Do you ship to Mars?", minutes=6),
        asked("What is the weather today", minutes=7),
    ]
    groups = group_questions(questions)
    assert [(g.question, g.count) for g in groups[:1]] == [("可以开发票吗", 3)]
    assert set(groups[0].examples) == {"能开发票吗？", "怎么开具发票"}
    assert groups[0].last_asked == NOW - timedelta(minutes=1)
    assert {g.question for g in groups[1:]} == {
        "发票抬头怎么改",
        "你们卖自行车吗",
        "Do you ship to Mars?",
        "What is the weather today",
    }


def test_reports_never_show_personal_data() -> None:
    """Raw messages may be stored (safety.store_raw_messages); the report masks them."""
    questions = [
        asked("我的手机号13912345678收不到验证码", minutes=2),
        asked("手机13800001111收不到验证码怎么办", minutes=1),
        asked("mail me at lee@example.com about the invoice"),
    ]
    groups = group_questions(questions)
    shown = " ".join(g.question + " " + " ".join(g.examples) for g in groups)
    assert "13912345678" not in shown and "13800001111" not in shown
    assert "lee@example.com" not in shown
    assert "收不到验证码" in shown  # the question itself stays readable
