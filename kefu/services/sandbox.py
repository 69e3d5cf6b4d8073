"""An app loaded in a throw-away data dir, for replays and evaluations of whole dialogs.

The sandbox has its own SQLite file and index under a temporary directory (whatever
``KEFU_DATABASE_URL`` says: the live database is never opened), and its tools are answered
from a :class:`~kefu.tools.recorded.ToolTape`, never by the business systems. Turns run
through the engine's stages (:func:`kefu.engine.turn.run_turn`) and, with a model, its
streamed answer; nothing is persisted and no hand-over service, webhook or agent inbox is
involved: a hand-over is a decision in the turn's result, and the conversation stays with
the bot (the caller decides what follows).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kefu.core.records import MessageRecord
from kefu.core.settings import Settings
from kefu.engine.app import AppRuntime
from kefu.engine.context import TurnContext
from kefu.engine.dialog.dialog_state import DialogState
from kefu.engine.generation import AnswerState, stream_answer
from kefu.engine.turn import run_turn
from kefu.safety.pii import mask_pii
from kefu.services.runtime import Runtime
from kefu.tools.recorded import ToolTape, replaying_registry

__all__ = ["Sandbox", "SandboxTurn"]


@dataclass(frozen=True, slots=True)
class SandboxTurn:
    """What the app decided for one message."""

    route: str
    answer: str
    language: str
    sources: list[dict[str, Any]]
    trace: dict[str, Any]
    handoff_reason: str | None
    dialog: dict[str, Any]  # the dialog state after the turn, for the next one
    not_recorded: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class Sandbox:
    """One app file, loaded in a temporary data dir; close it (or use ``with``)."""

    def __init__(self, app_file: Path, *, settings: Settings | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="kefu-sandbox-")
        base = settings or Settings()
        sandboxed = base.model_copy(update={"data_dir": Path(self._dir.name), "database_url": None})
        try:
            self.runtime = Runtime.build(sandboxed, [app_file])
        except BaseException:
            self._dir.cleanup()
            raise
        self.app: AppRuntime = self.runtime.apps.all()[0]
        self.tape = ToolTape(mask_pii)
        self.app.tools = replaying_registry(self.app.tools, self.tape)
        self.app.flows.tools = self.app.tools
        self.app_file = app_file

    @property
    def name(self) -> str:
        return self.app.name

    async def turn(
        self,
        query: str,
        dialog: dict[str, Any] | None = None,
        *,
        conversation_id: str = "",
        user: str = "",
        now: dt.datetime | None = None,
        history: Sequence[MessageRecord] = (),
    ) -> SandboxTurn:
        """Decide ``query`` in a conversation whose dialog state is ``dialog`` (as stored:
        the ``dialog`` of the previous turn's result, None for a new conversation)."""
        app = self.app
        misses = len(self.tape.misses)
        ctx = TurnContext(
            app=app,
            raw_query=query,
            conversation_id=conversation_id,
            user=user,
            dialog=DialogState.from_dict(dialog, app.flows.names),
            history=history if app.model is not None else (),
            now=now,
        )
        await run_turn(ctx)
        answer = ctx.answer
        if ctx.prompt is not None and app.model is not None:
            state = AnswerState()
            async for _ in stream_answer(
                app.model, ctx.prompt, ctx, state, asyncio.Event(), ctx.sampling
            ):
                pass
            answer = state.text
        return SandboxTurn(
            route=ctx.route,
            answer=answer,
            language=ctx.language,
            sources=[source.to_dict() for source in ctx.sources],
            trace=ctx.trace.to_dict(),
            handoff_reason=ctx.handoff_reason,
            dialog=ctx.dialog.to_dict(),
            not_recorded=list(self.tape.misses[misses:]),
        )

    async def aclose_connections(self) -> None:
        """Close the model's and tools' connections, from the event loop that used them."""
        await self.runtime.aclose_models()

    def close(self) -> None:
        try:
            self.runtime.close()
        finally:
            self._dir.cleanup()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
