"""Slot-filling flows: intent → ask for what is missing → (confirm) → action → answer.

A flow works with no LLM at all. Each turn the customer's message can fill several slots at
once (entities, patterns, choices), correct one already filled, say yes/no to a pending
state-changing action, cancel, or talk about something else — the flow then waits
(suspended) and the bot reminds the customer of its question after answering. A slot that
is asked ``max_asks`` times without an answer hands the conversation over.

The decisions here are pure (state in, step out); calling the action is async and is the
chat service's job (:mod:`kefu.engine.dialog.actions`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

from kefu.appfile.app_config import RepliesConfig
from kefu.appfile.dialog_config import FlowConfig, SlotConfig
from kefu.core.types import Language
from kefu.engine.dialog.dialog_state import DialogState, FlowFrame
from kefu.engine.dialog.templates import render
from kefu.nlu.dialog_acts import DialogAct
from kefu.tools import ToolRegistry

__all__ = ["FlowBook", "FlowStep", "TurnFacts", "jsonable"]

StepKind = Literal["ask", "confirm", "act", "cancelled", "declined", "handoff"]


class EntityLike(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def value(self) -> object: ...


@dataclass(frozen=True, slots=True)
class TurnFacts:
    """What understanding found in the customer's message."""

    text: str
    entities: Sequence[EntityLike] = ()
    intent: str | None = None  # a confident intent, or None
    act: DialogAct | None = None


@dataclass(slots=True)
class FlowStep:
    """What a flow does this turn. ``reply`` is the bot's text except for ``act``, whose
    answer comes from the action's result."""

    kind: StepKind
    flow: str
    reply: str = ""
    action: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    filled: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)
    asked: str | None = None

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = {"flow": self.flow, "step": self.kind}
        for key in ("filled", "corrected"):
            if getattr(self, key):
                data[key] = list(getattr(self, key))
        if self.asked:
            data["asked"] = self.asked
        if self.action:
            data["action"] = self.action
        return data


def jsonable(value: object) -> Any:
    """An entity value as it is stored in the dialog state and seen by templates/tools."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


class FlowBook:
    """An app's flows, by name and by the intent that starts them."""

    def __init__(
        self,
        flows: Sequence[FlowConfig],
        replies: RepliesConfig,
        tools: ToolRegistry | None = None,
    ) -> None:
        """``tools``: the app's tools; one marked ``confirm`` changes state, so its flow asks
        for the customer's explicit yes first."""
        self.by_name = {flow.name: flow for flow in flows}
        self.by_intent = {flow.intent: flow for flow in flows}
        self.names = frozenset(self.by_name)
        self.replies = replies
        self.tools = tools
        self._patterns = {
            (flow.name, slot.name): re.compile(slot.pattern, re.IGNORECASE)
            for flow in flows
            for slot in flow.slots
            if slot.pattern
        }

    def for_intent(self, intent: str | None) -> FlowConfig | None:
        return self.by_intent.get(intent) if intent else None

    # ----------------------------------------------------------------- turn decisions

    def start(
        self, state: DialogState, flow: FlowConfig, facts: TurnFacts, language: Language
    ) -> FlowStep:
        """Begin ``flow`` (putting aside any flow in progress) with what this message says."""
        state.suspend_active()
        known = {
            s.name: state.profile[s.name]
            for s in flow.slots
            if s.remember and s.name in state.profile
        }
        state.active = FlowFrame(flow=flow.name, slots=known)
        filled, corrected = self._fill(flow, state.active, facts)
        self._remember(state, flow)
        return self._advance(state, flow, language, filled, corrected, answered=True)

    def continue_active(
        self, state: DialogState, facts: TurnFacts, language: Language
    ) -> FlowStep | None:
        """The flow in progress takes this message, or None when it is about something else
        (the caller answers that and reminds the customer of the flow's question)."""
        frame = state.active
        if frame is None:
            return None
        flow = self.by_name[frame.flow]
        if facts.act == "cancel" or (facts.act == "deny" and not frame.confirming):
            state.active = None
            return FlowStep("cancelled", flow.name, self.replies.flow_cancelled.get(language))
        filled, corrected = self._fill(flow, frame, facts)
        self._remember(state, flow)
        if frame.confirming:
            if facts.act == "affirm" and not (filled or corrected):
                return self._act(state, flow)
            if facts.act == "deny":
                state.active = None
                return FlowStep("declined", flow.name, self.replies.action_declined.get(language))
        if filled or corrected:
            frame.confirming = False
            return self._advance(state, flow, language, filled, corrected, answered=True)
        return None

    def reask(self, state: DialogState, language: Language) -> FlowStep:
        """The message answered nothing: ask again, or hand over after ``max_asks`` tries."""
        frame = state.active
        assert frame is not None
        flow = self.by_name[frame.flow]
        return self._advance(state, flow, language, [], [], answered=False)

    def pending_question(self, state: DialogState, language: Language) -> str | None:
        """The question the flow in progress waits on (to remind the customer)."""
        frame = state.active
        if frame is None:
            return None
        flow = self.by_name[frame.flow]
        if frame.confirming:
            return self._confirmation(flow, frame, language)
        slot = self._missing(flow, frame)
        return self._text(slot.ask.get(language), frame) if slot else None

    def finish(self, state: DialogState, language: Language) -> str | None:
        """The active flow is done: resume the last suspended one and return its question."""
        state.active = None
        if state.resume() is None:
            return None
        question = self.pending_question(state, language)
        return self.replies.resume.get(language) + question if question else None

    # -------------------------------------------------------------------- internals

    def _advance(
        self,
        state: DialogState,
        flow: FlowConfig,
        language: Language,
        filled: list[str],
        corrected: list[str],
        *,
        answered: bool,
    ) -> FlowStep:
        frame = state.active
        assert frame is not None
        slot = self._missing(flow, frame)
        if slot is not None:
            repeated = frame.asking == slot.name and not answered
            frame.asks = frame.asks + 1 if repeated else 0
            frame.asking = slot.name
            if frame.asks >= flow.max_asks:
                state.active = None
                return FlowStep("handoff", flow.name, self.replies.handoff.get(language))
            if repeated:
                question = (slot.retry or slot.ask).get(language)
                prefix = "" if slot.retry else self.replies.not_understood.get(language)
                text = _sentences(prefix, self._text(question, frame))
            else:
                text = self._text(slot.ask.get(language), frame)
            return FlowStep(
                "ask", flow.name, text, filled=filled, corrected=corrected, asked=slot.name
            )
        frame.asking, frame.asks = None, 0
        if self._needs_confirmation(flow) and not frame.confirming:
            frame.confirming = True
            text = self._confirmation(flow, frame, language)
            return FlowStep("confirm", flow.name, text, filled=filled, corrected=corrected)
        step = self._act(state, flow)
        step.filled, step.corrected = filled, corrected
        return step

    @staticmethod
    def _act(state: DialogState, flow: FlowConfig) -> FlowStep:
        frame = state.active
        assert frame is not None
        frame.confirming = False
        tools = ",".join(step.tool for step in flow.steps) or None
        return FlowStep("act", flow.name, action=tools, arguments=dict(frame.slots))

    @staticmethod
    def _remember(state: DialogState, flow: FlowConfig) -> None:
        """Slots marked ``remember`` (who the customer is) carry over to later flows."""
        frame = state.active
        if frame is None:
            return
        for slot in flow.slots:
            if slot.remember and frame.slots.get(slot.name) not in (None, ""):
                state.profile[slot.name] = frame.slots[slot.name]

    def _confirm_tool(self, flow: FlowConfig) -> str | None:
        """The first state-changing tool of the flow's action, if any."""
        if self.tools is None:
            return None
        for step in flow.steps:
            tool = self.tools.get(step.tool)
            if tool is not None and tool.confirm:
                return step.tool
        return None

    def _needs_confirmation(self, flow: FlowConfig) -> bool:
        return self._confirm_tool(flow) is not None

    def _confirmation(self, flow: FlowConfig, frame: FlowFrame, language: Language) -> str:
        if flow.confirm is not None:
            return self._text(flow.confirm.get(language), frame)
        name = self._confirm_tool(flow)
        if self.tools is not None and name is not None:
            config = self.tools.config(name)
            if config is not None and config.confirm_prompt is not None:
                return self.tools.confirm_prompt(name, frame.slots, language)
            tool = self.tools.get(name)
            action = tool.description.get(language) if tool else name
        else:
            action = flow.name
        separator = "，" if language == "zh" else ", "
        details = separator.join(f"{name} {value}" for name, value in frame.slots.items())
        return self.replies.confirm_action.get(language).format(action=action, details=details)

    @staticmethod
    def _missing(flow: FlowConfig, frame: FlowFrame) -> SlotConfig | None:
        for slot in flow.slots:
            if slot.required and frame.slots.get(slot.name) in (None, ""):
                return slot
        return None

    @staticmethod
    def _text(template: str, frame: FlowFrame) -> str:
        return render(template, dict(frame.slots)) or template

    def _fill(
        self, flow: FlowConfig, frame: FlowFrame, facts: TurnFacts
    ) -> tuple[list[str], list[str]]:
        """Put what the message says into the flow's slots: (newly filled, corrected)."""
        filled: list[str] = []
        corrected: list[str] = []
        used: set[int] = set()
        lowered = facts.text.lower()
        for slot in flow.slots:
            value = self._slot_value(flow, slot, facts, lowered, used)
            if value is None:
                continue
            previous = frame.slots.get(slot.name)
            if previous in (None, ""):
                filled.append(slot.name)
            elif previous != value:
                corrected.append(slot.name)
            frame.slots[slot.name] = value
        return filled, corrected

    def _slot_value(
        self,
        flow: FlowConfig,
        slot: SlotConfig,
        facts: TurnFacts,
        lowered: str,
        used: set[int],
    ) -> Any:
        if slot.entity is not None:
            types = slot.entity_types
            for position, entity in enumerate(facts.entities):
                if entity.type in types and position not in used:
                    used.add(position)
                    return jsonable(entity.value)
        pattern = self._patterns.get((flow.name, slot.name))
        if pattern is not None:
            match = pattern.search(facts.text)
            if match:
                return match.group(1) if pattern.groups else match.group(0)
        if slot.choices:
            for value, words in slot.choices.items():
                if any(word.lower() in lowered for word in (value, *words) if word):
                    return value
        return None


def _sentences(first: str, second: str) -> str:
    """Two sentences as one reply: a space after Latin punctuation, none after Chinese."""
    if first and first[-1].isascii() and not first[-1].isspace():
        return f"{first} {second}"
    return first + second
