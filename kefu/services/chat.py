"""Chat service: one customer turn from request to stored answer, blocking or streamed.

validate (user, inputs, rate limits) → lock the conversation → load (the conversation, its
dialog state, recent turns for a model) → run the turn (:mod:`kefu.engine.turn`) → deliver
(the answer, or the model's stream) → persist (:mod:`kefu.engine.stages.persist`), then tell
the hand-over side and unlock.

The conversation's turn lock (:class:`~kefu.core.locks.TurnLocks`, across replicas with
Redis) is held from before the load until the turn is stored, so two messages of one
conversation sent at once never both read the same dialog state (the later write would lose
the earlier one's slots): the second waits, and past the lock's timeout gets ``Conflict``
(409) before anything is sent. A stop or an agent's reply never takes the lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Coroutine
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from anyio import to_thread

from kefu.core.errors import NotFound, TooManyRequests
from kefu.core.ids import end_user_id, is_id, new_id, utcnow
from kefu.core.locks import InMemoryTurnLocks, TurnLocks
from kefu.core.records import ConversationRecord
from kefu.core.types import Source
from kefu.engine.app import AppRuntime
from kefu.engine.context import TurnContext
from kefu.engine.dialog.dialog_state import DialogState
from kefu.engine.generation import (
    AnswerDelta,
    AnswerReplace,
    AnswerState,
    SamplingOverride,
    split_for_streaming,
    stream_answer,
)
from kefu.engine.stages.persist import TurnUsage, stored_query, turn_record
from kefu.engine.trace import Trace
from kefu.engine.transcript import PriorTurn, TranscriptIndex, replay_dialog, transcript_history
from kefu.engine.turn import run_turn
from kefu.handoff.states import held_by_human
from kefu.observability import context as log_context
from kefu.observability import metrics, tracing
from kefu.safety.rate_limit import InMemoryRateLimits, RateLimits
from kefu.services.handoff import HandoffService
from kefu.services.tasks import AnswerTasks, InMemoryAnswerTasks
from kefu.services.validation import clean_inputs, clean_user
from kefu.store import Store
from kefu.store.conversations import ENDED

__all__ = [
    "AnswerDelta",
    "AnswerReplace",
    "ChatRequest",
    "ChatService",
    "PreparedTurn",
    "PriorTurn",
    "SamplingOverride",
    "TurnEvent",
    "TurnResult",
    "TurnUsage",
]

CONVERSATION_NAME_CHARS = 20


@dataclass(frozen=True, slots=True)
class ChatRequest:
    app: AppRuntime
    user: str
    query: str
    inputs: dict[str, Any] = field(default_factory=dict)
    conversation_id: str | None = None
    # The earlier turns of a client that keeps the history itself (OpenAI ``messages``);
    # None for clients whose history kefu keeps (kefu.engine.transcript).
    transcript: tuple[PriorTurn, ...] | None = None
    sampling: SamplingOverride | None = None  # the caller's, for a generated answer
    images: int = 0  # images sent with the message (kefu.services.chat_files)


@dataclass(slots=True)
class PreparedTurn:
    """A validated turn whose answer is decided but not yet delivered or stored."""

    request: ChatRequest
    end_user_id: str
    conversation_id: str
    new_conversation: ConversationRecord | None
    ctx: TurnContext
    task_id: str
    message_id: str
    created_at: float
    started: float
    state: AnswerState = field(default_factory=AnswerState)
    handoff_state: str = "bot"  # the conversation's, before this turn (kefu.handoff.states)
    # The conversation's turn lock, released once the turn is stored (or never delivered).
    held: AsyncExitStack = field(default_factory=AsyncExitStack)
    delivering: bool = False  # answer() or stream() began: they release ``held``


@dataclass(frozen=True, slots=True)
class TurnResult:
    task_id: str
    message_id: str
    conversation_id: str
    answer: str
    status: str  # normal | stopped
    route: str
    sources: list[Source]
    usage: TurnUsage
    created_at: int
    latency_ms: float
    handoff_state: str = "bot"  # the conversation's, after this turn
    finish_reason: str = "stop"  # "length" when the model ran out of max_tokens


TurnEvent = AnswerDelta | AnswerReplace | TurnResult


class ChatService:
    """Runs customer turns for any loaded app: validate, answer, stream, stop, store."""

    def __init__(
        self,
        store: Store,
        limits: RateLimits | None = None,
        handoff: HandoffService | None = None,
        tasks: AnswerTasks | None = None,
        locks: TurnLocks | None = None,
        session_ttl_s: float | None = None,
    ) -> None:
        """The shared state (rate limits, answers in progress, turn locks) is in-memory
        unless given. ``session_ttl_s``: a conversation idle this long ends (an app file's
        ``limits.session_ttl_s`` wins); None: never."""
        self.store = store
        self.handoff = handoff or HandoffService(store)
        self.limits: RateLimits = limits or InMemoryRateLimits()
        self.tasks: AnswerTasks = tasks or InMemoryAnswerTasks()
        self.locks: TurnLocks = locks or InMemoryTurnLocks()
        self.session_ttl_s = session_ttl_s
        self._active: dict[str, int] = {}  # answers in progress per app
        self.transcripts = TranscriptIndex()
        self._background: set[asyncio.Future[TurnResult]] = set()

    async def prepare(self, request: ChatRequest) -> PreparedTurn:
        """Validate, load the conversation and run the turn's stages: the answer is decided
        (or planned for a model). Raises ``RequestError`` before anything is sent."""
        started = time.perf_counter()
        app = request.app
        user = clean_user(request.user)
        inputs = clean_inputs(request.inputs)
        user_id = end_user_id(app.id, user)
        self._admit(app, user_id)
        sampling = request.sampling.apply(app.config.llm.sampling) if request.sampling else None
        ctx = TurnContext(
            app=app,
            raw_query=request.query,
            user=user,
            sampling=sampling,
            trace=_trace(app),
            images=request.images,
        )
        logged = log_context.turn_context()
        logged.app, logged.trace_id = app.name, ctx.trace.trace_id
        if logged.request_id is not None and logged.request_id != ctx.trace.trace_id:
            ctx.trace.facts["request_id"] = logged.request_id  # the client's, to find it by
        held = AsyncExitStack()
        try:
            if request.conversation_id and is_id(request.conversation_id):
                await held.enter_async_context(self.locks.lock(request.conversation_id))
            existing = await self._load(request, ctx, user_id)
            logged.conversation_id = ctx.conversation_id
            await run_turn(ctx)
        except BaseException as exc:
            await asyncio.shield(held.aclose())
            tracing.end_span(ctx.trace.span, error=type(exc).__name__)
            raise
        logged.route = ctx.route
        new_conversation = None
        if existing is None:
            now = utcnow()
            new_conversation = ConversationRecord(
                id=ctx.conversation_id,
                app_id=app.id,
                end_user_id=user_id,
                name=stored_query(ctx)[:CONVERSATION_NAME_CHARS],
                inputs=inputs,
                status="normal",
                message_count=0,
                created_at=now,
                updated_at=now,
            )
        return PreparedTurn(
            request=replace(request, user=user, inputs=inputs, conversation_id=ctx.conversation_id),
            end_user_id=user_id,
            conversation_id=ctx.conversation_id,
            new_conversation=new_conversation,
            ctx=ctx,
            task_id=new_id(),
            message_id=new_id(),
            created_at=time.time(),
            started=started,
            handoff_state=ctx.handoff_state,
            held=held,
        )

    async def abandon(self, turn: PreparedTurn) -> None:
        """A prepared turn that will never be delivered (its response never started):
        release its conversation. A turn being delivered is released when it is stored."""
        if not turn.delivering:
            turn.delivering = True
            await turn.held.aclose()

    def _admit(self, app: AppRuntime, user_id: str) -> None:
        """The customer's rate limit and the app's cap on answers in progress."""
        security = app.config.security
        rate = security.user_rate_per_s
        wait = self.limits.take(f"user:{user_id}", rate, security.user_burst) if rate else 0.0
        if wait:
            metrics.rate_limited("user")
            raise TooManyRequests("Too many messages from this user; slow down.", wait)
        if self._active.get(app.id, 0) >= security.max_concurrent_turns:
            metrics.rate_limited("concurrency")
            raise TooManyRequests("Too many answers in progress for this app; retry shortly.")

    async def _load(
        self, request: ChatRequest, ctx: TurnContext, user_id: str
    ) -> ConversationRecord | None:
        """The conversation the turn belongs to (None: a new one), its dialog state, who
        owns it, and — for a model — its recent turns."""
        app = request.app
        existing = None
        if request.conversation_id:
            if not is_id(request.conversation_id):
                raise NotFound("Conversation Not Exists.")
            existing = await to_thread.run_sync(
                self.store.conversations.get, app.id, user_id, request.conversation_id
            )
            if existing is None:
                raise NotFound("Conversation Not Exists.")
            if self._ended(app, existing):
                await self._end(existing, ctx)
                existing = None
        elif request.transcript:
            existing = await self._from_transcript(app, user_id, request.transcript, ctx)
        if existing is not None:
            ctx.conversation_id = existing.id
            ctx.handoff_state = existing.handoff_state
            ctx.dialog = DialogState.from_dict(existing.dialog_state, app.flows.names)
        else:
            ctx.conversation_id = new_id()
        if app.model is not None and not held_by_human(ctx.handoff_state):
            # Twice the window: turns beyond it are summarised rather than forgotten.
            window = 2 * app.config.limits.history_turns
            if request.transcript:
                ctx.history = transcript_history(
                    request.transcript, app.id, ctx.conversation_id, window
                )
            elif existing is not None:
                ctx.history = await to_thread.run_sync(
                    self.store.conversations.recent_messages, ctx.conversation_id, window
                )
        return existing

    def _ended(self, app: AppRuntime, conversation: ConversationRecord) -> bool:
        """Whether the conversation is over: ended already, or idle past the session TTL
        (never while a human agent owns it)."""
        if conversation.status == ENDED:
            return True
        ttl = app.config.limits.session_ttl_s or self.session_ttl_s
        if ttl is None or held_by_human(conversation.handoff_state):
            return False
        return _idle_s(conversation.updated_at) > ttl

    async def _end(self, conversation: ConversationRecord, ctx: TurnContext) -> None:
        """End an idle conversation: stored as ``ended``, told to live listeners; the turn
        starts a new conversation (its trace names the old one)."""
        ended = await to_thread.run_sync(
            self.store.conversations.end,
            conversation.app_id,
            conversation.end_user_id,
            conversation.id,
        )
        if ended:
            self.handoff.notify.customer(
                conversation.id,
                {
                    "event": "conversation_ended",
                    "conversation_id": conversation.id,
                    "reason": "idle",
                },
            )
        ctx.trace.facts["previous_conversation_id"] = conversation.id

    async def _from_transcript(
        self, app: AppRuntime, user_id: str, turns: tuple[PriorTurn, ...], ctx: TurnContext
    ) -> ConversationRecord | None:
        """The conversation a client-kept dialog continues; else None, with ``ctx.dialog``
        rebuilt from the client's turns (kefu.engine.transcript)."""
        with ctx.trace.stage("transcript") as record:
            record["turns"] = len(turns)
            key = TranscriptIndex.key(app.id, user_id, [turn.query for turn in turns])
            found = self.transcripts.take(key)
            if found is not None:
                existing = await to_thread.run_sync(
                    self.store.conversations.get, app.id, user_id, found
                )
                if existing is not None:  # None: deleted since
                    record["continued"] = True
                    return existing
            ctx.dialog, record["replayed"] = await replay_dialog(app, turns)
            record["continued"] = False
            return None

    async def _produce(
        self, turn: PreparedTurn, stopped: asyncio.Event
    ) -> AsyncGenerator[AnswerDelta | AnswerReplace, None]:
        """The answer as it is ready: a model's tokens, or the extractive answer in pieces."""
        app_id = turn.request.app.id
        self._active[app_id] = self._active.get(app_id, 0) + 1
        try:
            async with aclosing(self._answer_events(turn, stopped)) as events:
                async for event in events:
                    yield event
        finally:
            self._active[app_id] -= 1

    async def _answer_events(
        self, turn: PreparedTurn, stopped: asyncio.Event
    ) -> AsyncGenerator[AnswerDelta | AnswerReplace, None]:
        model = turn.request.app.model
        ctx = turn.ctx
        if ctx.prompt is not None and model is not None:
            # aclosing: a consumer that leaves closes the model's stream now, not at GC.
            async with aclosing(
                stream_answer(model, ctx.prompt, ctx, turn.state, stopped, ctx.sampling)
            ) as events:
                async for event in events:
                    yield event
            return
        for piece in split_for_streaming(turn.ctx.answer):
            if stopped.is_set():
                return
            turn.state.parts.append(piece)
            yield AnswerDelta(piece)
            await asyncio.sleep(0)  # let a stop request or a disconnect be noticed

    async def answer(self, turn: PreparedTurn) -> TurnResult:
        """Blocking mode: the whole answer, stored. It completes even if the caller leaves
        (in a task the caller's cancellation cannot reach: the conversation stays locked
        until the turn is stored)."""
        turn.delivering = True
        if turn.ctx.prompt is None:
            # Decided already (FAQ, passage, fallback): nothing to wait for but the store.
            turn.state.parts.append(turn.ctx.answer)
            return await asyncio.shield(self._in_background(self._finish(turn, "normal")))
        return await asyncio.shield(self._in_background(self._answer(turn)))

    async def _answer(self, turn: PreparedTurn) -> TurnResult:
        running = self.tasks.start(turn.task_id, turn.request.app.id, turn.end_user_id)
        try:
            async with aclosing(self._produce(turn, running.stopped)) as events:
                async for _ in events:
                    pass
        except BaseException:  # not stored: nothing else will release the conversation
            await asyncio.shield(turn.held.aclose())
            raise
        finally:
            self.tasks.finish(turn.task_id)
        status = "stopped" if running.stopped.is_set() else "normal"
        return await self._finish(turn, status)

    async def stream(self, turn: PreparedTurn) -> AsyncGenerator[TurnEvent, None]:
        """Streaming mode: answer pieces as they are ready, then the stored result.

        Stopping or leaving closes the model's stream (cancelling the upstream request); the
        turn is still stored, by a task the transport cannot cancel.
        """
        turn.delivering = True
        running = self.tasks.start(turn.task_id, turn.request.app.id, turn.end_user_id)
        finishing: asyncio.Future[TurnResult] | None = None
        try:
            async with aclosing(self._produce(turn, running.stopped)) as events:
                async for event in events:
                    yield event
            status = "stopped" if running.stopped.is_set() else "normal"
            finishing = self._in_background(self._finish(turn, status))
            yield await asyncio.shield(finishing)
        except (asyncio.CancelledError, GeneratorExit):
            if finishing is None:
                finishing = self._in_background(self._finish(turn, "stopped"))
            raise
        finally:
            self.tasks.finish(turn.task_id)
            if finishing is None:  # failed before storing: release the conversation here
                await asyncio.shield(turn.held.aclose())

    def _in_background(self, work: Coroutine[Any, Any, TurnResult]) -> asyncio.Future[TurnResult]:
        """Run ``work`` in a task the caller's cancellation cannot reach; keep a reference."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return task

    def stop(self, app: AppRuntime, user: str, task_id: str) -> None:
        self.tasks.stop(task_id, app.id, end_user_id(app.id, clean_user(user)))

    async def _finish(self, turn: PreparedTurn, status: str) -> TurnResult:
        """Persist the turn, tell the hand-over side, release the conversation; the result
        the client sees."""
        try:
            return await self._persist(turn, status)
        finally:
            await asyncio.shield(turn.held.aclose())

    async def _persist(self, turn: PreparedTurn, status: str) -> TurnResult:
        ctx, request = turn.ctx, turn.request
        usage = TurnUsage(
            turn.state.usage.prompt_tokens,
            turn.state.usage.completion_tokens,
            time.perf_counter() - turn.started,
        )
        record = turn_record(
            ctx,
            message_id=turn.message_id,
            end_user_id=turn.end_user_id,
            external_user=request.user,
            inputs=request.inputs,
            answer=turn.state.text,
            status=status,
            usage=usage,
            new_conversation=turn.new_conversation,
        )
        persisting = time.perf_counter()
        with tracing.stage_span(ctx.trace.span, "persist"):
            await self.store.save_turn(record)
        metrics.stage_timed("persist", time.perf_counter() - persisting)
        if ctx.route == "annotation":  # its hit count, shown in the annotation list
            await to_thread.run_sync(
                self.store.annotations.add_hit, request.app.id, ctx.faq_hits[0].entry.id
            )
        handoff_state = await self.handoff.after_turn(
            request.app,
            record.message,
            request.user,
            turn.handoff_state,
            ctx.handoff_reason,
            ctx.ticket_id,
        )
        _observe(ctx, status, usage, handoff_state)
        if request.transcript is not None:  # the client's next request continues here
            queries = [t.query for t in request.transcript] + [request.query]
            key = TranscriptIndex.key(request.app.id, turn.end_user_id, queries)
            self.transcripts.remember(key, turn.conversation_id)
        return TurnResult(
            task_id=turn.task_id,
            message_id=turn.message_id,
            conversation_id=turn.conversation_id,
            answer=record.message.answer,
            status=status,
            route=ctx.route,
            sources=list(ctx.sources),
            usage=usage,
            created_at=int(turn.created_at),
            latency_ms=record.message.latency_ms,
            handoff_state=handoff_state,
            finish_reason="length" if turn.state.finish_reason == "length" else "stop",
        )


def _idle_s(updated_at: datetime) -> float:
    """Seconds since ``updated_at`` (stored times are UTC; SQLite's come back naive)."""
    if updated_at.tzinfo is None:
        updated_at = updated_at.replace(tzinfo=utcnow().tzinfo)
    return (utcnow() - updated_at).total_seconds()


def _trace(app: AppRuntime) -> Trace:
    """The turn's trace: its id is the turn span's (tracing on), else the request id when
    it has a trace id's shape (kefu's own request ids do), else a new one."""
    span = tracing.start_turn_span({"kefu.app": app.name})
    if span is not None:
        return Trace(tracing.span_trace_id(span), span)
    logged = log_context.current()
    return Trace(log_context.trace_shaped(logged.request_id if logged else None))


def _observe(ctx: TurnContext, status: str, usage: TurnUsage, handoff_state: str) -> None:
    """The finished turn's metrics, and the end of its span."""
    app = ctx.app.name
    metrics.turn_finished(app, ctx.route, ctx.language, usage.latency_s)
    if ctx.understood is not None and ctx.understood.intent is not None:
        metrics.intent_confidence(app, ctx.understood.intent.confidence)
    tracing.end_span(
        ctx.trace.span,
        {
            "kefu.route": ctx.route,
            "kefu.language": ctx.language,
            "kefu.conversation_id": ctx.conversation_id,
            "kefu.status": status,
            "kefu.handoff_state": handoff_state,
        },
    )
