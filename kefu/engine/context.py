"""What one turn knows while its stages run (:mod:`kefu.engine.turn` lists them).

The context is the turn's working memory. Each field has one owner — the stage that decides
it — named beside it; later stages read it. The chat service fills the conversation part
(what it loaded) before the first stage and reads the outcome after the last.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from kefu.appfile.llm_config import SamplingConfig
from kefu.core.records import MessageRecord
from kefu.core.types import ChunkHit, FaqHit, Language, Source
from kefu.engine.app import AppRuntime
from kefu.engine.dialog.dialog_state import DialogState
from kefu.engine.dialog.flows import FlowStep
from kefu.engine.route_cache import RouteDecision
from kefu.engine.trace import Trace
from kefu.engine.understanding import Understood
from kefu.llm.base import ChatMessage

__all__ = ["DIRECT", "GUARDED", "Route", "TurnContext"]

Route = Literal[
    "annotation",  # a curated annotation answered directly (kefu.engine.annotation_book)
    "faq", "passage", "fallback", "generate", "blocked", "refused", "flow", "handoff",
    "ticket",  # a hand-over outside business hours: a ticket instead
    "clarify",  # two FAQ answers fit almost equally: the customer is asked which one
    "human",  # a human owns the conversation: no answer, the message waits for the agent
]  # fmt: skip
GUARDED: tuple[Route, ...] = ("blocked", "refused")  # answered by the input guard
DIRECT: tuple[Route, ...] = ("annotation", "faq")  # a curated answer, given as written


@dataclass(slots=True)
class TurnContext:
    """One turn: the conversation it belongs to, then what each stage decided."""

    app: AppRuntime
    raw_query: str
    # The conversation, loaded by the chat service before the first stage.
    conversation_id: str = ""
    user: str = ""  # the app's name for the customer (tool calls see it)
    handoff_state: str = "bot"  # who owns the conversation (kefu.handoff.states)
    dialog: DialogState = field(default_factory=DialogState)  # flows; route updates it
    history: Sequence[MessageRecord] = ()  # recent turns, for a model (empty without one)
    sampling: SamplingConfig | None = None  # the caller's override of the app's sampling
    images: int = 0  # images the customer sent with the message (a model is told, in words)
    trace: Trace = field(default_factory=Trace)
    # When the turn happens (relative dates, business hours); None: now. A replay sets the
    # recorded moment, so "上个月" and the opening hours mean what they meant then.
    now: dt.datetime | None = None
    # input_guard
    query: str = ""
    masked_query: str = ""  # the query with PII masked (traces, prompts, storage)
    # understand (language: also the hand-over gate, and route keeps a conversation's)
    language: Language = "zh"
    understood: Understood | None = None
    # rewrite: what retrieval uses, the query or its standalone rewrite
    search_query: str = ""
    # route (the input guard sets a guarded route; act and plan may settle it further)
    route: Route = "fallback"
    knowledge: RouteDecision | None = None  # what retrieval decided for the question
    faq_hits: list[FaqHit] = field(default_factory=list)
    passages: list[ChunkHit] = field(default_factory=list)
    flow_step: FlowStep | None = None
    reminder: str | None = None  # a flow's pending question, after answering something else
    handoff_reason: str | None = None  # why the route is "handoff" (kefu.engine.handoff_policy)
    ticket_id: str | None = None  # the ticket a hand-over outside business hours opens
    # route, act, plan: the answer (kept as the fallback when a model generates) and sources
    answer: str = ""
    sources: list[Source] = field(default_factory=list)
    # act (tool calling) and plan: the grounded prompt a model answers, if any
    prompt: list[ChatMessage] | None = None
    screened: bool | None = None  # the model guard's verdict, once asked
    done: bool = False  # a stage ended the turn (the hand-over gate)
