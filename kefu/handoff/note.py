"""The handover note: what an agent needs to know before typing the first word.

The note is data: codes (reason, intent, sentiment) and the customer's own words. Its texts
come in both UI languages (``reason_text``), so the console shows them in the language the
agent chose; the one-line ``summary`` (for webhooks and after-hours tickets) is written in
the conversation's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from kefu.core.records import MessageRecord
from kefu.core.types import Language

__all__ = ["REASONS", "handover_note", "reason_text"]

LAST_TURNS = 5
ANSWER_CHARS = 300

# Why a conversation was handed over (``handoff_reason``); rules may name their own.
REASONS: dict[str, dict[Language, str]] = {
    "customer_request": {"zh": "顾客要求转人工", "en": "the customer asked for a human"},
    "negative_sentiment": {
        "zh": "顾客连续多条消息表达不满",
        "en": "the customer was unhappy several messages in a row",
    },
    "unanswered": {
        "zh": "机器人连续多个问题没能回答",
        "en": "the bot could not answer several questions in a row",
    },
    "flow_failed": {
        "zh": "顾客没能提供流程所需的信息",
        "en": "the customer could not give what a flow asked for",
    },
    "tool_failed": {"zh": "业务系统调用失败", "en": "a business-system call failed"},
    "rule": {"zh": "命中转人工规则", "en": "a hand-over rule matched"},
    "legal_threat": {
        "zh": "顾客提到投诉维权或法律途径",
        "en": "the customer threatened legal action",
    },
    "safety": {
        "zh": "顾客报告安全或健康问题",
        "en": "the customer reported a safety or health issue",
    },
    "fraud": {
        "zh": "顾客报告账号被盗或欺诈",
        "en": "the customer reported fraud or a stolen account",
    },
    "complaint": {"zh": "顾客提出投诉", "en": "the customer made a complaint"},
    "bot_unhelpful": {
        "zh": "顾客表示机器人帮不上忙",
        "en": "the customer said the bot was not helping",
    },
}
_SUMMARY: dict[Language, dict[str, str]] = {
    "zh": {"intent": "意图 {}", "slots": "槽位 {}", "sentiment": "情绪 {}",
           "last": "最后的问题：{}", "join": "；"},
    "en": {"intent": "intent {}", "slots": "slots {}", "sentiment": "sentiment {}",
           "last": "last question: {}", "join": "; "},
}  # fmt: skip
_SENTIMENTS: dict[Language, dict[str, str]] = {
    "zh": {"negative": "负面", "neutral": "中性", "positive": "正面"},
    "en": {"negative": "negative", "neutral": "neutral", "positive": "positive"},
}


def reason_text(reason: str) -> dict[Language, str]:
    """The reason in both languages; a rule's own reason name is shown as the rule's."""
    if reason in REASONS:
        return dict(REASONS[reason])
    rule = REASONS["rule"]
    return {"zh": f"{rule['zh']}（{reason}）", "en": f"{rule['en']} ({reason})"}


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
        "reason_text": reason_text(reason),
        "intent": intent,
        "flow": frame.get("flow") if frame else None,
        "slots": slots,
        "sentiment": {
            "last": sentiments[-1] if sentiments else None,
            "negative_in_recent": sentiments.count("negative"),
            "negative_streak": state.get("negative_streak", 0),
        },
        "unanswered_streak": state.get("unanswered_streak", 0),
        "language": _language(state, customer_turns),
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


def _language(state: dict[str, Any], customer_turns: Sequence[MessageRecord]) -> Language:
    """The conversation's language: the dialog state's, else the last customer message's."""
    for language in (state.get("language"), *(m.language for m in reversed(customer_turns))):
        if language in ("zh", "en"):
            return cast(Language, language)
    return "zh"


def _summary(note: dict[str, Any], customer_turns: Sequence[MessageRecord]) -> str:
    language: Language = note["language"]
    words = _SUMMARY[language]
    parts = [note["reason_text"][language]]
    if note["intent"]:
        parts.append(words["intent"].format(note["intent"]))
    if note["slots"]:
        parts.append(words["slots"].format(", ".join(f"{k}={v}" for k, v in note["slots"].items())))
    if note["sentiment"]["last"]:
        last = note["sentiment"]["last"]
        parts.append(words["sentiment"].format(_SENTIMENTS[language].get(last, last)))
    if customer_turns:
        parts.append(words["last"].format(customer_turns[-1].query[:120]))
    return words["join"].join(parts)
