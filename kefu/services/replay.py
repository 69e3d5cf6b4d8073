"""Replay: stored customer turns against a changed app, and what changed — the offline A/B test.

Every customer turn of the given conversations is decided again, in order, by the new app
in a :class:`~kefu.services.sandbox.Sandbox` (tools answered from the calls the traces
recorded, nothing written to the live store), and compared with what the stored answer
decided — or, with a baseline app, with what the baseline decides in its own sandbox. Each
turn is reduced to a :class:`Decision`: the route, the knowledge it answered from (FAQ entry
or document), the flow step, the hand-over and the answer's text.

Who owns the conversation follows the recording: turns a human agent handled (route
``human``) are not decided again (``skipped``), and a hand-over the new app makes where the
recording had none is reported on its turn while the following turns are still answered by
the bot, as recorded. Relative dates and business hours are judged at the recorded moment.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kefu.core.ids import is_id
from kefu.core.records import MessageRecord
from kefu.services.conversation_export import ExportedConversation, ExportedTurn
from kefu.services.sandbox import Sandbox, SandboxTurn
from kefu.tools.recorded import RecordedCall

__all__ = ["ASPECTS", "Decision", "ReplayReport", "TurnComparison", "decision_of", "replay"]

ASPECTS = ("route", "knowledge", "flow", "handoff", "answer")
"""What a turn's decision is compared on, in the order reports show them."""
HANDOFF_ROUTES = ("handoff", "ticket")


@dataclass(frozen=True, slots=True)
class Decision:
    """What one turn decided, reduced to what an operator compares."""

    route: str
    knowledge: str  # "faq:<id>", "doc:<document>" (several joined by ", "), or ""
    flow: str  # "<flow>: <step> <slot>", e.g. "order_status: ask order_id", or ""
    handoff: str  # the hand-over's reason ("ticket: <reason>" after hours), or ""
    answer: str

    def get(self, aspect: str) -> str:
        return str(getattr(self, aspect))


def _knowledge(sources: Sequence[dict[str, Any]]) -> str:
    keys: list[str] = []
    for source in sources:
        segment = str(source.get("segment_id") or "")
        # A FAQ entry keeps its own id; a chunk's id is a new UUID in every index, so a
        # passage is named by its document.
        key = f"doc:{source.get('document_name', '')}" if is_id(segment) else f"faq:{segment}"
        if segment and key not in keys:
            keys.append(key)
    return ", ".join(keys)


def _flow(trace: dict[str, Any] | None) -> str:
    for stage in (trace or {}).get("stages", []):
        if stage.get("name") != "route" or not isinstance(stage.get("flow"), dict):
            continue
        flow = stage["flow"]
        step = f"{flow.get('flow', '')}: {flow.get('step', '')}"
        slot = flow.get("asked") or flow.get("action") or ""
        return f"{step} {slot}".strip()
    return ""


def _handoff(route: str, trace: dict[str, Any] | None, reason: str | None) -> str:
    if route not in HANDOFF_ROUTES:
        return ""
    facts = (trace or {}).get("handoff")
    if reason is None and isinstance(facts, dict):
        reason = facts.get("reason") or facts.get("trigger")
    reason = reason or "handoff"
    return f"ticket: {reason}" if route == "ticket" else reason


def decision_of(
    route: str,
    answer: str,
    sources: Sequence[dict[str, Any]],
    trace: dict[str, Any] | None,
    handoff_reason: str | None = None,
) -> Decision:
    """The decision of a stored or a replayed turn, computed the same way for both."""
    return Decision(
        route=route,
        knowledge=_knowledge(sources),
        flow=_flow(trace),
        handoff=_handoff(route, trace, handoff_reason),
        answer=answer.strip(),
    )


@dataclass(frozen=True, slots=True)
class TurnComparison:
    """One customer turn: what the reference (stored or baseline) and the new app decided."""

    conversation_id: str
    turn: int  # 1-based, among the conversation's customer turns
    query: str
    created_at: dt.datetime
    before: Decision
    after: Decision
    not_recorded: tuple[tuple[str, dict[str, Any]], ...] = ()

    @property
    def changed(self) -> tuple[str, ...]:
        return tuple(a for a in ASPECTS if self.before.get(a) != self.after.get(a))


@dataclass
class ReplayReport:
    """Every replayed turn, and the counts the reports show."""

    app: str
    reference: str  # "stored answers" or the baseline app file
    candidate: str  # the new app file
    conversations: int = 0
    skipped_human: int = 0  # customer turns a human agent handled: not decided again
    turns: list[TurnComparison] = field(default_factory=list)

    @property
    def replayed(self) -> int:
        return len(self.turns)

    @property
    def changed_turns(self) -> list[TurnComparison]:
        return [turn for turn in self.turns if turn.changed]

    def changes(self, aspect: str) -> list[TurnComparison]:
        return [turn for turn in self.turns if aspect in turn.changed]

    def transitions(self, aspect: str) -> Counter[tuple[str, str]]:
        """(before, after) → how many turns, for the turns whose ``aspect`` changed."""
        if aspect == "answer":  # every answer differs in its own way: counted, not grouped
            return Counter()
        return Counter((t.before.get(aspect), t.after.get(aspect)) for t in self.changes(aspect))

    @property
    def not_recorded(self) -> list[tuple[str, dict[str, Any]]]:
        return [call for turn in self.turns for call in turn.not_recorded]

    def summary(self, examples: int = 3) -> dict[str, Any]:
        """The report as JSON-ready data (``kefu replay --json``)."""

        def shown(turn: TurnComparison) -> dict[str, Any]:
            return {
                "conversation_id": turn.conversation_id,
                "turn": turn.turn,
                "query": turn.query,
                "changed": list(turn.changed),
                "before": {a: turn.before.get(a) for a in ASPECTS},
                "after": {a: turn.after.get(a) for a in ASPECTS},
            }

        return {
            "app": self.app,
            "reference": self.reference,
            "candidate": self.candidate,
            "conversations": self.conversations,
            "replayed_turns": self.replayed,
            "skipped_human_turns": self.skipped_human,
            "changed_turns": len(self.changed_turns),
            "changed": {aspect: len(self.changes(aspect)) for aspect in ASPECTS},
            "transitions": {
                aspect: [
                    {"before": before, "after": after, "turns": count}
                    for (before, after), count in self.transitions(aspect).most_common()
                ]
                for aspect in ASPECTS
                if aspect != "answer"
            },
            "not_recorded_calls": [
                {"tool": tool, "arguments": arguments} for tool, arguments in self.not_recorded
            ],
            "examples": {
                aspect: [shown(turn) for turn in self.changes(aspect)[:examples]]
                for aspect in ASPECTS
            },
        }


def _recorded_calls(turns: Sequence[ExportedTurn]) -> list[RecordedCall]:
    calls = []
    for turn in turns:
        for entry in (turn.trace or {}).get("tool_calls", []) or []:
            call = RecordedCall.from_trace(entry) if isinstance(entry, dict) else None
            if call is not None:
                calls.append(call)
    return calls


def _history(
    app_id: str, conversation: ExportedConversation, upto: int, window: int
) -> list[MessageRecord]:
    """The stored turns before ``upto`` as a model's history: what the customer saw."""
    earlier = conversation.turns[max(0, upto - window) : upto]
    return [
        MessageRecord(
            id=turn.message_id,
            app_id=app_id,
            conversation_id=conversation.id,
            end_user_id="",
            query=turn.query,
            answer=turn.answer,
            inputs={},
            status=turn.status,
            route=turn.route,
            language=turn.language,
            retriever_resources=[],
            usage={},
            latency_ms=0.0,
            error=None,
            created_at=turn.created_at,
            agent_id=turn.agent,
            agent_name=turn.agent,
        )
        for turn in earlier
    ]


class _Side:
    """One sandbox replaying one conversation: its dialog state carries from turn to turn."""

    def __init__(self, sandbox: Sandbox, conversation: ExportedConversation) -> None:
        self.sandbox = sandbox
        self.conversation = conversation
        self.dialog: dict[str, Any] | None = None
        sandbox.tape.start_conversation(_recorded_calls(conversation.turns))

    async def decide(self, index: int) -> SandboxTurn:
        turn = self.conversation.turns[index]
        app = self.sandbox.app
        window = 2 * app.config.limits.history_turns
        decided = await self.sandbox.turn(
            turn.query,
            self.dialog,
            conversation_id=self.conversation.id,
            user=self.conversation.user,
            now=turn.created_at,
            history=_history(app.id, self.conversation, index, window),
        )
        self.dialog = decided.dialog
        return decided


def _replayed(decided: SandboxTurn) -> Decision:
    return decision_of(
        decided.route, decided.answer, decided.sources, decided.trace, decided.handoff_reason
    )


def _stored(turn: ExportedTurn) -> Decision:
    return decision_of(turn.route, turn.answer, turn.sources, turn.trace)


async def replay(
    conversations: Sequence[ExportedConversation],
    candidate: Sandbox,
    baseline: Sandbox | None = None,
    *,
    on_turn: Callable[[], None] | None = None,
) -> ReplayReport:
    """Decide every customer turn again with ``candidate`` and compare it with the stored
    decision, or with ``baseline``'s when one is given. ``on_turn`` is called per customer
    turn (a progress bar)."""
    everyone = [call for c in conversations for call in _recorded_calls(c.turns)]
    for sandbox in (candidate, baseline):
        if sandbox is not None:
            sandbox.tape.add(everyone)
    report = ReplayReport(
        app=candidate.name,
        reference=str(baseline.app_file) if baseline is not None else "stored answers",
        candidate=str(candidate.app_file),
    )
    for conversation in conversations:
        report.conversations += 1
        new = _Side(candidate, conversation)
        old = _Side(baseline, conversation) if baseline is not None else None
        number = 0
        for index, turn in enumerate(conversation.turns):
            if not turn.from_customer:
                continue
            number += 1
            if turn.route == "human":  # a human agent had the conversation: not re-decided
                report.skipped_human += 1
            else:
                after = await new.decide(index)
                before = _replayed(await old.decide(index)) if old is not None else _stored(turn)
                report.turns.append(
                    TurnComparison(
                        conversation_id=conversation.id,
                        turn=number,
                        query=turn.query,
                        created_at=turn.created_at,
                        before=before,
                        after=_replayed(after),
                        not_recorded=tuple(after.not_recorded),
                    )
                )
            if on_turn is not None:
                on_turn()
    return report


def customer_turns(conversations: Sequence[ExportedConversation]) -> int:
    """How many customer turns a replay of ``conversations`` goes through (progress total)."""
    return sum(turn.from_customer for c in conversations for turn in c.turns)
