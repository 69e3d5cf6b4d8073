"""Stage 9, persist: what the turn writes, in one transaction — the message (question as
stored, answer as delivered, route, sources, usage), its trace and the dialog state.

The records are built here; the chat service hands them to the store's group-commit writer
in a task the transport cannot cancel, so a stopped or disconnected stream still stores
what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from kefu.core.ids import utcnow
from kefu.core.records import ConversationRecord, MessageRecord, TraceRecord, TurnRecord
from kefu.engine.context import TurnContext

__all__ = ["TurnUsage", "stored_query", "turn_record"]


@dataclass(frozen=True, slots=True)
class TurnUsage:
    """Tokens a turn's answer used (none for an extractive one) and how long it took."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def stored_query(ctx: TurnContext) -> str:
    """What the customer wrote, PII-masked unless the app keeps raw messages."""
    return ctx.query if ctx.app.config.safety.store_raw_messages else ctx.masked_query


def turn_record(
    ctx: TurnContext,
    *,
    message_id: str,
    end_user_id: str,
    external_user: str,
    inputs: dict[str, object],
    answer: str,
    status: str,
    usage: TurnUsage,
    new_conversation: ConversationRecord | None,
) -> TurnRecord:
    now = utcnow()
    ctx.trace.facts["status"] = status
    understood = ctx.understood
    message = MessageRecord(
        id=message_id,
        app_id=ctx.app.id,
        conversation_id=ctx.conversation_id,
        end_user_id=end_user_id,
        query=stored_query(ctx),
        answer=answer,
        inputs=dict(inputs),
        status=status,
        route=ctx.route,
        language=ctx.language,
        retriever_resources=[source.to_dict() for source in ctx.sources],
        usage={
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "latency": round(usage.latency_s, 4),
        },
        latency_ms=round(usage.latency_s * 1000, 3),
        error=ctx.trace.facts.get("fallback"),
        created_at=now,
        intent=understood.intent.label if understood and understood.intent else None,
        sentiment=understood.sentiment.label if understood else None,
    )
    trace = TraceRecord(
        message_id=message_id,
        app_id=ctx.app.id,
        trace_id=ctx.trace.trace_id,
        data=ctx.trace.to_dict(),
        created_at=now,
    )
    return TurnRecord(
        app_id=ctx.app.id,
        end_user_id=end_user_id,
        end_user_external_id=external_user,
        conversation_id=ctx.conversation_id,
        message=message,
        trace=trace,
        new_conversation=new_conversation,
        dialog_state=ctx.dialog.to_dict(),
    )
