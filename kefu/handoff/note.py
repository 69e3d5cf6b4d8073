"""The handover note: what an agent needs to know before typing the first word."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kefu.core.records import MessageRecord

__all__ = ["REASONS", "handover_note"]

LAST_TURNS = 5
ANSWER_CHARS = 300

# Why a conversation was handed over (``handoff_reason``); rules may name their own.
REASONS = {
    "customer_request": "the customer asked for a human",
    "negative_sentiment": "the customer was unhappy several messages in a row",
    "unanswered": "the bot could not answer several questions in a row",
    "flow_failed": "the customer could not give what a flow asked for",
    "tool_failed": "a business-system call failed",
    "rule": "a hand-over rule matched",
}


def handover_note(
    reason: str, dialog_state: dict[str, Any] | None, messages: Sequence[MessageRecord]
) -> dict[str, Any]:
    """Intent, slots, sentiment and the last turns, with a one-line summary."""
    state = dialog_state or {}
    active = state.get("active") if isinstance(state.get("active"), dict) else None
    suspended = state.get("suspended") if isinstance(state.get("suspended"), list) else []
    frame = active or (suspended[-1] if suspended and isinstance(suspended[-1], dict) else None)
    customer_turns = [m for m in messages if m.query]
    intent = state.get("last_intent") or next(
        (m.intent for m in reversed(customer_turns) if m.intent), None
    )
    sentiments = [m.sentiment for m in customer_turns if m.sentiment][-LAST_TURNS:]
    slots = dict(frame.get("slots") or {}) if frame else {}
    note: dict[str, Any] = {
        "reason": reason,
        "reason_text": REASONS.get(reason, reason),
        "intent": intent,
        "flow": frame.get("flow") if frame else None,
        "slots": slots,
        "sentiment": {
            "last": sentiments[-1] if sentiments else None,
            "negative_in_recent": sentiments.count("negative"),
            "negative_streak": state.get("negative_streak", 0),
        },
        "unanswered_streak": state.get("unanswered_streak", 0),
        "language": state.get("language"),
        "last_turns": [
            {
                "query": m.query,
                "answer": m.answer[:ANSWER_CHARS],
                "route": m.route,
                "agent": m.agent_name,
                "created_at": int(m.created_at.timestamp()),
            }
            for m in messages[-LAST_TURNS:]
        ],
    }
    note["summary"] = _summary(note, customer_turns)
    return note


def _summary(note: dict[str, Any], customer_turns: Sequence[MessageRecord]) -> str:
    parts = [note["reason_text"]]
    if note["intent"]:
        parts.append(f"intent {note['intent']}")
    if note["slots"]:
        parts.append("slots " + ", ".join(f"{k}={v}" for k, v in note["slots"].items()))
    if note["sentiment"]["last"]:
        parts.append(f"sentiment {note['sentiment']['last']}")
    if customer_turns:
        parts.append(f"last question: {customer_turns[-1].query[:120]}")
    return "; ".join(parts)
