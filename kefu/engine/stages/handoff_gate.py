"""Stage 2, hand-over gate: a human owns the conversation, so the bot stays silent.

The message waits in the agent inbox (the chat service stores it and tells the agent); no
understanding, retrieval or model runs for it. Applies only to such conversations.
"""

from __future__ import annotations

from typing import Any

from kefu.engine.context import TurnContext
from kefu.engine.stages.understand import detect_turn_language
from kefu.handoff.states import held_by_human

__all__ = ["applies", "run"]


def applies(ctx: TurnContext) -> bool:
    return held_by_human(ctx.handoff_state)


def run(ctx: TurnContext, record: dict[str, Any]) -> None:
    ctx.language = detect_turn_language(ctx)  # the message is stored in its language
    ctx.route = "human"
    ctx.answer = ""
    ctx.sources = []
    ctx.done = True
    record.update(handoff_state=ctx.handoff_state, route="human")
