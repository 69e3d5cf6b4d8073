"""The per-day figures of a generated history whose answers are known (no store)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime

import pytest

from kefu.appfile.llm_config import TokenPrice
from kefu.core.analytics_records import (
    ConversationFact,
    CsatFact,
    FeedbackFact,
    HandoffEventFact,
    ServiceHistory,
    TurnFact,
)
from kefu.core.errors import InvalidParam
from kefu.services.analytics import CSV_COLUMNS, build_report, report_csv, resolve_window

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def turn(cid: str, at: datetime, route: str = "faq", **kwargs: object) -> TurnFact:
    values: dict[str, object] = {
        "intent": None, "by_agent": False, "prompt_tokens": 0, "completion_tokens": 0,
    }  # fmt: skip
    values.update(kwargs)
    return TurnFact(cid, at, route, **values)  # type: ignore[arg-type]


def move(cid: str, at: datetime, src: str, dst: str, **kwargs: str) -> HandoffEventFact:
    return HandoffEventFact(cid, src, dst, kwargs.get("agent"), kwargs.get("reason"), at)


def history() -> ServiceHistory:
    """Two Shanghai days (Dec 1 and 2). UTC 16:00 on Nov 30 is 00:00 on Dec 1 there."""
    return ServiceHistory(
        since=utc(1, 0),
        until=utc(3, 0),
        conversations=[
            # Dec 1 (Shanghai): contained, handed over (claimed and resolved), a ticket
            ConversationFact("a", utc(1, 1), None, None),
            ConversationFact("b", utc(1, 2), utc(1, 2, 5), "customer_request"),
            ConversationFact("t", utc(1, 3), None, None),
            # 23:30 on Dec 1 in Shanghai is 15:30 UTC: still Dec 1
            ConversationFact("late", utc(1, 15, 30), None, None),
            # 00:30 on Dec 2 in Shanghai is 16:30 UTC on Dec 1: Dec 2
            ConversationFact("c", utc(1, 16, 30), utc(1, 16, 40), "negative_sentiment"),
        ],
        turns=[
            turn("a", utc(1, 1), "faq", intent="greeting", prompt_tokens=100, completion_tokens=50),
            turn("b", utc(1, 2), "fallback"),
            turn("b", utc(1, 2, 5), "handoff"),
            turn("b", utc(1, 2, 10), "human"),  # waits for the agent: not a bot answer
            turn("b", utc(1, 2, 20), "agent", by_agent=True),
            turn("t", utc(1, 3), "ticket"),
            turn(
                "late",
                utc(1, 15, 30),
                "generate",
                intent="greeting",
                prompt_tokens=900,
                completion_tokens=100,
            ),
            turn("c", utc(1, 16, 30), "fallback", intent="refund"),
            turn("c", utc(1, 16, 40), "handoff"),
        ],
        events=[
            move("b", utc(1, 2, 5), "bot", "pending_human", reason="customer_request"),
            move("b", utc(1, 2, 15), "pending_human", "human", agent="ag1"),  # waited 600 s
            move("b", utc(1, 2, 45), "human", "resolved", agent="ag1"),  # handled 1800 s
            move("c", utc(1, 16, 40), "bot", "pending_human", reason="negative_sentiment"),
        ],
        feedback=[FeedbackFact("like", utc(1, 1)), FeedbackFact("dislike", utc(1, 17))],
        csat=[CsatFact(4, "ag1", utc(1, 3)), CsatFact(2, None, utc(1, 17))],
        agent_names={"ag1": "小王"},
    )


def test_figures_per_day_in_the_reports_time_zone() -> None:
    price = TokenPrice(input_per_million=2.0, output_per_million=8.0, currency="CNY")
    report = build_report("shop", history(), date(2026, 12, 1), date(2026, 12, 2), SHANGHAI, price)
    first, second = report.days
    assert (first.day, second.day) == ("2026-12-01", "2026-12-02")
    assert (first.conversations, first.contained, first.handed_over) == (4, 2, 2)
    assert first.containment_rate == 0.5 and first.handoff_rate == 0.5
    assert (second.conversations, second.contained, second.handed_over) == (1, 0, 1)
    # bot answers: a, b×2, t, late on Dec 1 (the waiting message and the agent's are not)
    assert (first.bot_answers, first.fallbacks) == (5, 1)
    assert (second.bot_answers, second.fallbacks) == (2, 1) and second.fallback_rate == 0.5
    assert (first.likes, first.dislikes, second.likes, second.dislikes) == (1, 0, 0, 1)
    assert (first.csat_count, first.csat_avg, second.csat_avg) == (1, 4.0, 2.0)
    assert (first.taken, first.avg_waiting_s, first.handled, first.avg_handling_s) == (
        1, 600.0, 1, 1800.0,
    )  # fmt: skip
    assert (second.taken, second.handled, second.avg_handling_s) == (0, 0, None)
    assert (first.prompt_tokens, first.completion_tokens, first.tokens) == (1000, 150, 1150)
    assert first.cost == pytest.approx((1000 * 2 + 150 * 8) / 1e6)
    assert first.tokens_per_conversation == 1150 / 4
    assert report.total.conversations == 5 and report.total.contained == 2
    assert report.total.containment_rate == pytest.approx(0.4)
    assert report.handoff_reasons == {
        "customer_request": 1, "after_hours_ticket": 1, "negative_sentiment": 1,
    }  # fmt: skip
    assert report.top_intents == [("greeting", 2), ("refund", 1)]
    [agent] = report.agents
    assert agent.as_json() == {
        "agent_id": "ag1", "name": "小王", "handled": 1, "avg_handling_s": 1800.0,
        "csat_count": 1, "csat_avg": 4.0,
    }  # fmt: skip
    assert report.currency == "CNY"


def test_in_utc_the_late_conversation_moves_to_the_next_day() -> None:
    report = build_report(
        "shop", history(), date(2026, 12, 1), date(2026, 12, 2), zoneinfo.ZoneInfo("UTC")
    )
    first, second = report.days
    assert (first.conversations, second.conversations) == (5, 0)
    assert first.cost is None and report.currency is None  # no price: no cost


def test_a_resolve_without_its_start_in_the_window_is_not_timed() -> None:
    facts = ServiceHistory(
        since=utc(1, 0),
        until=utc(2, 0),
        events=[move("old", utc(1, 5), "human", "resolved", agent="ag1")],
    )
    report = build_report("shop", facts, date(2026, 12, 1), date(2026, 12, 1), SHANGHAI)
    assert report.total.handled == 0 and report.agents == []


def test_csv_has_a_row_per_day_and_a_total() -> None:
    report = build_report("shop", history(), date(2026, 12, 1), date(2026, 12, 2), SHANGHAI)
    lines = report_csv(report).splitlines()
    assert lines[0].startswith("day,conversations,contained,containment_rate")
    assert [line.split(",")[0] for line in lines[1:]] == ["2026-12-01", "2026-12-02", "total"]
    assert lines[1].split(",")[1:4] == ["4", "2", "0.5"]
    # an undefined rate is empty, not 0
    assert lines[2].split(",")[CSV_COLUMNS.index("avg_handling_s")] == ""  # Dec 2


@pytest.mark.parametrize(
    ("start", "end", "tz", "message"),
    [
        ("2026-13-01", None, "UTC", "dates like"),
        ("2026-12-05", "2026-12-01", "UTC", "must not be after"),
        ("2024-01-01", "2026-12-01", "UTC", "at most"),
        (None, None, "Mars/Olympus", "unknown time zone"),
    ],
)
def test_bad_windows_are_refused(start: str | None, end: str | None, tz: str, message: str) -> None:
    with pytest.raises(InvalidParam, match=message):
        resolve_window(start, end, tz)


def test_the_default_window_is_the_last_seven_days() -> None:
    first, last, _ = resolve_window(None, None, "UTC", today=date(2026, 12, 4))
    assert (first, last) == (date(2026, 11, 28), date(2026, 12, 4))
