"""Follow one chat turn through the code: which kefu files it enters, how many calls cross
from one file to another, and how often it comes back into the chat service.

Two turns of the demo app, in process, through the chat service (what the API calls):

* a new conversation asking an FAQ question, no model;
* a follow-up in that conversation with a model (scripted, so nothing is downloaded)
  rewriting the question and generating the answer.

Measured with ``sys.setprofile``: every Python call whose code lives in ``kefu/`` counts
once per call (a coroutine's resumption is a call too, as Python reports it); a
cross-file call is one whose caller's file differs from the callee's.

    python bench/turn_path.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import SecretStr

import kefu
from kefu.core.settings import Settings
from kefu.services.chat import ChatRequest, TurnResult
from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel

PACKAGE = str(Path(kefu.__file__).parent)
CHAT = str(Path(kefu.__file__).parent / "services" / "chat.py")


class Path_:
    """What ``sys.setprofile`` saw while it was on."""

    def __init__(self) -> None:
        self.files: Counter[str] = Counter()
        self.cross = 0
        self.into_chat = 0  # control came back into the chat service from another kefu file
        self.here = ""  # the kefu file running now

    def _arrive(self, where: str) -> None:
        if where.startswith(PACKAGE) and where != self.here:
            if where == CHAT and self.here:
                self.into_chat += 1
            self.here = where

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "return":
            self._arrive(frame.f_back.f_code.co_filename if frame.f_back else "")
            return
        if event != "call":
            return
        callee = frame.f_code.co_filename
        if not callee.startswith(PACKAGE):
            return
        self.files[callee] += 1
        caller = frame.f_back.f_code.co_filename if frame.f_back else ""
        if caller.startswith(PACKAGE) and caller != callee:
            self.cross += 1
        self._arrive(callee)


STAGES_SEEN: list[str] = []  # the last turn's trace records, in order


async def turn(runtime: Runtime, query: str, conversation_id: str | None) -> TurnResult:
    app = runtime.apps.get("demo-shop")
    request = ChatRequest(app=app, user="bench", query=query, conversation_id=conversation_id)
    prepared = await runtime.chat.prepare(request)
    result = await runtime.chat.answer(prepared)
    STAGES_SEEN[:] = [record["name"] for record in prepared.ctx.trace.stages]
    return result


async def follow(runtime: Runtime, query: str, conversation_id: str | None) -> tuple[Path_, Any]:
    seen = Path_()
    sys.setprofile(seen)
    try:
        result = await turn(runtime, query, conversation_id)
    finally:
        sys.setprofile(None)
    return seen, result


def report(name: str, seen: Path_, result: TurnResult) -> None:
    print(
        f"{name}: route={result.route}, {len(seen.files)} kefu files entered, "
        f"{seen.cross} cross-file calls, control back in services/chat.py "
        f"{seen.into_chat} times\n  trace: {' → '.join(STAGES_SEEN)}"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            data_dir=Path(data),
            admin_key=SecretStr("admin-bench"),
            demo_api_key=SecretStr("app-bench"),
            train_in_subprocess=False,
        )
        runtime = Runtime.build(settings, [], demo=True)
        try:
            # Warm up once so imports and first-use caches are not counted.
            await turn(runtime, "退货运费谁出？", None)
            seen, first = await follow(runtime, "退货要扣多少运费？", None)
            report("new conversation, FAQ", seen, first)
            app = runtime.apps.get("demo-shop")
            app.model = (
                ScriptedChatModel().say("拒收的运费谁承担？").say("拒收的来回运费由您承担 [1]。")
            )
            seen, second = await follow(runtime, "那拒收呢？", first.conversation_id)
            report("follow-up, LLM rewrite + generated answer", seen, second)
        finally:
            runtime.close()


if __name__ == "__main__":
    asyncio.run(main())
