"""Run one turn's stages from a synchronous test: a new conversation, no history."""

from __future__ import annotations

import asyncio

from kefu.engine.app import AppRuntime
from kefu.engine.context import TurnContext
from kefu.engine.turn import run_turn


def decide(app: AppRuntime, query: str) -> TurnContext:
    """The turn's decisions for ``query`` (route, answer, sources) as the stages make them."""
    return asyncio.run(run_turn(TurnContext(app=app, raw_query=query)))
