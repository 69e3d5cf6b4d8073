"""Chat service: one customer turn from request to stored answer, blocking or streamed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Coroutine
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from anyio import to_thread

from kefu.appfile.llm_config import SamplingConfig
from kefu.core.errors import InvalidParam, NotFound, TooManyRequests
from kefu.core.ids import end_user_id, is_id, new_id, utcnow
from kefu.core.records import ConversationRecord, MessageRecord, TraceRecord, TurnRecord
from kefu.engine.agent import answer_with_tools, model_tools, wants_lookup
from kefu.engine.app import AppRuntime
from kefu.engine.dialog.actions import run_flow_action
from kefu.engine.dialog.dialog_state import DialogState
from kefu.engine.generation import (
    AnswerDelta,
    AnswerReplace,
    AnswerState,
    Generator,
    SamplingOverride,
    split_for_streaming,
)
from kefu.engine.handoff_policy import hold_for_agent, settle_handoff
from kefu.engine.pipeline import TurnContext, finish_pipeline, refuse, retrieve, start_pipeline
from kefu.engine.transcript import PriorTurn, TranscriptIndex, replay_dialog, transcript_history
from kefu.handoff.states import held_by_human
from kefu.llm.base import ChatMessage
from kefu.safety import clean_text, clean_value
from kefu.safety.rate_limit import TokenBuckets
from kefu.services.handoff import HandoffService
from kefu.services.tasks import TaskRegistry
from kefu.store import Store

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
]

MAX_USER_CHARS = 255
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
    prompt: list[ChatMessage] | None = None  # set when a model writes the answer
    sampling: SamplingConfig | None = None  # the app's, unless the caller overrode it
    state: AnswerState = field(default_factory=AnswerState)
    handoff_state: str = "bot"  # the conversation's, before this turn (kefu.handoff.states)


@dataclass(frozen=True, slots=True)
class TurnResult:
    task_id: str
    message_id: str
    conversation_id: str
    answer: str
    status: str  # normal | stopped
    route: str
    retriever_resources: list[dict[str, Any]]
    usage: dict[str, Any]
    created_at: int
    latency_ms: float
    handoff_state: str = "bot"  # the conversation's, after this turn
    finish_reason: str = "stop"  # "length" when the model ran out of max_tokens


TurnEvent = AnswerDelta | AnswerReplace | TurnResult


def clean_user(user: str) -> str:
    cleaned = clean_text(user).strip()
    if not cleaned:
        raise InvalidParam("user is required: an identifier of the end user")
    if len(cleaned) > MAX_USER_CHARS:
        raise InvalidParam(f"user is too long: at most {MAX_USER_CHARS} characters")
    return cleaned


def clean_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """The app inputs, cleaned, if they can be stored as JSON (bounded depth, 64-bit ints)."""
    cleaned: dict[str, Any] = clean_value(inputs)
    try:
        orjson.dumps(cleaned)
    except orjson.JSONEncodeError as exc:
        raise InvalidParam(f"inputs cannot be stored: {exc}") from None
    return cleaned


def usage_block(
    latency_s: float, prompt_tokens: int = 0, completion_tokens: int = 0
) -> dict[str, Any]:
    """Dify's usage object (extractive answers use no tokens; kefu does not price them)."""
    return {
        "prompt_tokens": prompt_tokens,
        "prompt_unit_price": "0",
        "prompt_price_unit": "0",
        "prompt_price": "0",
        "completion_tokens": completion_tokens,
        "completion_unit_price": "0",
        "completion_price_unit": "0",
        "completion_price": "0",
        "total_tokens": prompt_tokens + completion_tokens,
        "total_price": "0",
        "currency": "USD",
        "latency": round(latency_s, 4),
    }


class ChatService:
    """Runs customer turns for any loaded app: validate, answer, stream, stop, store."""

    def __init__(
        self,
        store: Store,
        limits: TokenBuckets | None = None,
        handoff: HandoffService | None = None,
    ) -> None:
        self.store = store
        self.handoff = handoff or HandoffService(store)
        self.limits = limits or TokenBuckets()
        self.tasks = TaskRegistry()
        self._active: dict[str, int] = {}  # answers in progress per app
        self.generator = Generator()
        self.transcripts = TranscriptIndex()
        self._background: set[asyncio.Future[TurnResult]] = set()

    async def prepare(self, request: ChatRequest) -> PreparedTurn:
        """Validate and decide how to answer. Raises ``RequestError`` before anything is sent."""
        started = time.perf_counter()
        user = clean_user(request.user)
        inputs = clean_inputs(request.inputs)
        app = request.app
        user_id = end_user_id(app.id, user)
        security = app.config.security
        rate = security.user_rate_per_s
        wait = self.limits.take(f"user:{user_id}", rate, security.user_burst) if rate else 0.0
        if wait:
            raise TooManyRequests("Too many messages from this user; slow down.", wait)
        if self._active.get(app.id, 0) >= security.max_concurrent_turns:
            raise TooManyRequests("Too many answers in progress for this app; retry shortly.")
        ctx = start_pipeline(app, request.query)
        new_conversation = None
        history: list[MessageRecord] = []
        handoff_state = "bot"
        existing = None
        if request.conversation_id:
            if not is_id(request.conversation_id):
                raise NotFound("Conversation Not Exists.")
            existing = await to_thread.run_sync(
                self.store.conversations.get, app.id, user_id, request.conversation_id
            )
            if existing is None:
                raise NotFound("Conversation Not Exists.")
        elif request.transcript:
            existing = await self._from_transcript(app, user_id, request.transcript, ctx)
        if existing is not None:
            conversation_id = existing.id
            handoff_state = existing.handoff_state
            ctx.dialog = DialogState.from_dict(existing.dialog_state, app.flows.names)
        else:
            now = utcnow()
            conversation_id = new_id()
            new_conversation = ConversationRecord(
                id=conversation_id,
                app_id=app.id,
                end_user_id=user_id,
                name=self._stored_text(ctx)[:CONVERSATION_NAME_CHARS],
                inputs=inputs,
                status="normal",
                message_count=0,
                created_at=now,
                updated_at=now,
            )
        if app.model is not None and not held_by_human(handoff_state):
            # Twice the window: turns beyond it are summarised rather than forgotten.
            window = 2 * app.config.limits.history_turns
            if request.transcript:
                history = transcript_history(request.transcript, app.id, conversation_id, window)
            elif existing is not None:
                history = await to_thread.run_sync(
                    self.store.conversations.recent_messages, conversation_id, window
                )
            await self.generator.rewrite(app, ctx, history)
        if held_by_human(handoff_state):
            hold_for_agent(ctx, handoff_state)  # the bot stays silent; the agent answers
        else:
            await retrieve(ctx)  # an embedder or reranker, awaited under a deadline
            finish_pipeline(ctx)
            if ctx.flow_step is not None and ctx.flow_step.kind == "act":
                await run_flow_action(ctx, conversation_id, user)
            settle_handoff(ctx)
        prompt = None
        sampling = request.sampling.apply(app.config.llm.sampling) if request.sampling else None
        # With tools a model may look up what the knowledge does not hold: an order, a
        # phone number, a date… that the customer names outside any flow.
        tools = model_tools(app, ctx.language) if wants_lookup(ctx) else []
        if (ctx.route == "generate" or tools) and not await self.generator.screen(app, ctx):
            refuse(ctx)
            tools = []
        if ctx.route == "generate" or tools:
            prompt = await self.generator.plan(app, ctx, history, conversation_id, sampling)
            if tools and await answer_with_tools(ctx, prompt, tools, conversation_id, user):
                prompt = None
            elif ctx.route != "generate":
                prompt = None
        return PreparedTurn(
            request=replace(request, user=user, inputs=inputs, conversation_id=conversation_id),
            end_user_id=user_id,
            conversation_id=conversation_id,
            new_conversation=new_conversation,
            ctx=ctx,
            task_id=new_id(),
            message_id=new_id(),
            created_at=time.time(),
            started=started,
            prompt=prompt,
            sampling=sampling,
            handoff_state=handoff_state,
        )

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
        if turn.prompt is not None and model is not None:
            # aclosing: a consumer that leaves closes the model's stream now, not at GC.
            async with aclosing(
                self.generator.stream(
                    model, turn.prompt, turn.ctx, turn.state, stopped, turn.sampling
                )
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
        """Blocking mode: the whole answer, stored. It completes even if the caller leaves."""
        if turn.prompt is None:
            # Decided already (FAQ, passage, fallback): nothing to wait for but the store,
            # whose writer commits the turn even if this caller is cancelled.
            turn.state.parts.append(turn.ctx.answer)
            return await self._finish(turn, "normal")
        return await asyncio.shield(self._in_background(self._answer(turn)))

    async def _answer(self, turn: PreparedTurn) -> TurnResult:
        running = self.tasks.start(turn.task_id, turn.request.app.id, turn.end_user_id)
        try:
            async with aclosing(self._produce(turn, running.stopped)) as events:
                async for _ in events:
                    pass
        finally:
            self.tasks.finish(turn.task_id)
        status = "stopped" if running.stopped.is_set() else "normal"
        return await self._finish(turn, status)

    async def stream(self, turn: PreparedTurn) -> AsyncGenerator[TurnEvent, None]:
        """Streaming mode: answer pieces as they are ready, then the stored result.

        Stopping or leaving closes the model's stream (cancelling the upstream request); the
        turn is still stored, by a task the transport cannot cancel.
        """
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
                self._in_background(self._finish(turn, "stopped"))
            raise
        finally:
            self.tasks.finish(turn.task_id)

    def _in_background(self, work: Coroutine[Any, Any, TurnResult]) -> asyncio.Future[TurnResult]:
        """Run ``work`` in a task the caller's cancellation cannot reach; keep a reference."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return task

    @staticmethod
    def _stored_text(ctx: TurnContext) -> str:
        """What the customer wrote, PII-masked unless the app keeps raw messages."""
        return ctx.query if ctx.app.config.safety.store_raw_messages else ctx.masked_query

    def stop(self, app: AppRuntime, user: str, task_id: str) -> None:
        self.tasks.stop(task_id, app.id, end_user_id(app.id, clean_user(user)))

    async def _finish(self, turn: PreparedTurn, status: str) -> TurnResult:
        ctx = turn.ctx
        answer = turn.state.text
        latency_s = time.perf_counter() - turn.started
        usage = usage_block(
            latency_s, turn.state.usage.prompt_tokens, turn.state.usage.completion_tokens
        )
        now = utcnow()
        ctx.trace.facts["status"] = status
        message = MessageRecord(
            id=turn.message_id,
            app_id=turn.request.app.id,
            conversation_id=turn.conversation_id,
            end_user_id=turn.end_user_id,
            query=self._stored_text(ctx),
            answer=answer,
            inputs=turn.request.inputs,
            status=status,
            route=ctx.route,
            language=ctx.language,
            retriever_resources=ctx.resources,
            usage=usage,
            latency_ms=round(latency_s * 1000, 3),
            error=ctx.trace.facts.get("fallback"),
            created_at=now,
            intent=_intent_label(ctx),
            sentiment=ctx.understood.sentiment.label if ctx.understood else None,
        )
        trace = TraceRecord(
            message_id=turn.message_id,
            app_id=turn.request.app.id,
            trace_id=ctx.trace.trace_id,
            data=ctx.trace.to_dict(),
            created_at=now,
        )
        await self.store.save_turn(
            TurnRecord(
                app_id=turn.request.app.id,
                end_user_id=turn.end_user_id,
                end_user_external_id=turn.request.user,
                conversation_id=turn.conversation_id,
                message=message,
                trace=trace,
                new_conversation=turn.new_conversation,
                dialog_state=ctx.dialog.to_dict(),
            )
        )
        if ctx.route == "annotation":  # its hit count, shown in the annotation list
            await to_thread.run_sync(
                self.store.annotations.add_hit, turn.request.app.id, ctx.faq_hits[0].entry.id
            )
        handoff_state = await self.handoff.after_turn(
            turn.request.app,
            message,
            turn.request.user,
            turn.handoff_state,
            ctx.handoff_reason,
            ctx.ticket_id,
        )
        if turn.request.transcript is not None:  # the client's next request continues here
            queries = [t.query for t in turn.request.transcript] + [turn.request.query]
            key = TranscriptIndex.key(turn.request.app.id, turn.end_user_id, queries)
            self.transcripts.remember(key, turn.conversation_id)
        return TurnResult(
            task_id=turn.task_id,
            message_id=turn.message_id,
            conversation_id=turn.conversation_id,
            answer=answer,
            status=status,
            route=ctx.route,
            retriever_resources=ctx.resources,
            usage=usage,
            created_at=int(turn.created_at),
            latency_ms=message.latency_ms,
            handoff_state=handoff_state,
            finish_reason="length" if turn.state.finish_reason == "length" else "stop",
        )


def _intent_label(ctx: TurnContext) -> str | None:
    understood = ctx.understood
    if understood is None or understood.intent is None:
        return None
    return understood.intent.label
