"""Dialogs whose history the client keeps (OpenAI ``messages``): continue or rebuild them.

An OpenAI client sends the whole dialog with every request and never a conversation id.
kefu's answer depends on more than the words said: a flow in progress and its slots, the
streaks the hand-over policy counts, a human who owns the conversation. So a request whose
``messages`` hold earlier turns is tied to a conversation in one of two ways:

1. **Continue.** The conversation this process answered last with exactly these customer
   messages carries on (:class:`TranscriptIndex`: app, user and the customer's messages →
   conversation, in memory, bounded). Each entry is used once, so a regenerated or repeated
   request never advances a conversation twice; it is rebuilt instead. Nothing is replayed
   and the dialog stays one stored conversation.
2. **Rebuild.** Otherwise (a restart, another replica, an edited history) a new
   conversation starts and its dialog state is rebuilt by :func:`replay_dialog`: the
   earlier customer messages run through the understanding and routing stages again — no
   chat-model call, no tool call, nothing sent or stored. Flow steps that acted then are closed
   without calling their tools again, so a confirmed cancellation is not repeated. The
   cost is a few milliseconds per replayed message (understanding and routing are cached
   per text; an app with a remote embedder pays one embedding per new text, under its
   deadline), bounded by ``MAX_REPLAYED_TURNS``. What a replay cannot know is what the
   tools answered then and whether a human took the conversation over.

Either way the model's history is the client's transcript (what the customer saw), not the
stored one. Only the customer's messages key a dialog: what the assistant said is
whatever the client shows (it may trim or render it), and the same customer messages lead
kefu to the same dialog state. Two callers that share a ``user`` and send the same messages
may therefore swap conversations for a turn (the second one is rebuilt); give each customer
their own ``user``, as rate limits and hand-over need anyway.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from kefu.core.errors import RequestError
from kefu.core.ids import utcnow
from kefu.core.records import MessageRecord
from kefu.engine.app import AppRuntime
from kefu.engine.context import TurnContext
from kefu.engine.dialog.dialog_state import DialogState
from kefu.engine.turn import DECIDE_ONLY, run_turn
from kefu.safety import clean_text

__all__ = [
    "MAX_REPLAYED_TURNS",
    "PriorTurn",
    "TranscriptIndex",
    "replay_dialog",
    "transcript_history",
]

MAX_REPLAYED_TURNS = 20  # a flow spans a few turns; older ones cannot change today's state
INDEX_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class PriorTurn:
    """One earlier exchange the client sent: the customer's words and the reply shown."""

    query: str
    answer: str


class TranscriptIndex:
    """Which conversation a client-kept dialog continues; each entry is taken once."""

    def __init__(self, size: int = INDEX_SIZE) -> None:
        self.size = size
        self._conversations: OrderedDict[str, str] = OrderedDict()  # key → conversation
        self._keys: dict[str, str] = {}  # conversation → its current key

    @staticmethod
    def key(app_id: str, end_user_id: str, queries: Sequence[str]) -> str:
        words = [clean_text(query).strip() for query in queries]  # no lone surrogates
        return hashlib.sha256(orjson.dumps([app_id, end_user_id, words])).hexdigest()

    def take(self, key: str) -> str | None:
        conversation_id = self._conversations.pop(key, None)
        if conversation_id is not None:
            self._keys.pop(conversation_id, None)
        return conversation_id

    def remember(self, key: str, conversation_id: str) -> None:
        """``conversation_id`` now stands after the messages ``key`` names (and nowhere else)."""
        stale = self._keys.pop(conversation_id, None)
        if stale is not None and self._conversations.get(stale) == conversation_id:
            del self._conversations[stale]
        displaced = self._conversations.pop(key, None)  # another dialog with these words
        if displaced is not None:
            self._keys.pop(displaced, None)
        self._conversations[key] = conversation_id
        self._keys[conversation_id] = key
        while len(self._conversations) > self.size:
            _, evicted = self._conversations.popitem(last=False)
            self._keys.pop(evicted, None)


async def replay_dialog(app: AppRuntime, turns: Sequence[PriorTurn]) -> tuple[DialogState, int]:
    """The dialog state after the customer's earlier messages, and how many were replayed."""
    state = DialogState()
    replayed = 0
    for turn in turns[-MAX_REPLAYED_TURNS:]:
        if not turn.query.strip():
            continue  # an assistant message with no customer message before it
        ctx = TurnContext(app=app, raw_query=turn.query, dialog=state)
        try:
            await run_turn(ctx, only=DECIDE_ONLY)  # no model, no tool: the decisions only
        except RequestError:
            continue  # it would have been refused then (too long): it changed nothing
        step = ctx.flow_step
        if step is not None and step.kind == "act":
            app.flows.finish(state, ctx.language)  # its tools ran then; never run them again
        replayed += 1
    return state, replayed


def transcript_history(
    turns: Sequence[PriorTurn], app_id: str, conversation_id: str, limit: int
) -> list[MessageRecord]:
    """The client's last ``limit`` exchanges in the shape prompts take stored turns."""
    now = utcnow()
    start = max(0, len(turns) - limit)
    return [
        MessageRecord(
            id=f"transcript-{index}",  # stable per position: summaries are cached by it
            app_id=app_id,
            conversation_id=conversation_id,
            end_user_id="",
            query=clean_text(turn.query),
            answer=clean_text(turn.answer),
            inputs={},
            status="normal",
            route="transcript",
            language="",
            retriever_resources=[],
            usage={},
            latency_ms=0.0,
            error=None,
            created_at=now,
        )
        for index, turn in enumerate(turns[start:], start)
    ]
