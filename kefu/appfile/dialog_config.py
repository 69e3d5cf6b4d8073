"""Dialog configuration: intents with example utterances, and slot-filling flows.

In the app YAML::

    intents:
      order.status:                      # hierarchical label
        - 我的订单到哪了
        - where is my order
    flows:
      - name: order_status
        intent: order.status             # the flow starts when this intent is recognised
        slots:
          - name: order_id
            entity: order_id             # filled by an extracted entity of this type
            ask: {zh: 请提供订单号, en: "What is your order number?"}
        action: get_order                # a tool (optional): called with the slots
        answer: {zh: "订单 {{ order_id }}：{{ result.status }}", en: "…"}

Answers are Jinja2 templates (sandboxed) over the slots and, after an action, ``result``.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import Field, field_validator, model_validator

from kefu.appfile._strict import Strict
from kefu.appfile.nlu_config import IntentSettings
from kefu.core.localized import LocalizedText, localize

__all__ = [
    "ActionStep",
    "FlowConfig",
    "NluConfig",
    "SlotConfig",
    "check_template",
    "intent_examples",
]

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
INTENT_LABEL = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,5}$")
_ENVIRONMENT = SandboxedEnvironment()


class NluConfig(Strict):
    """How the app understands messages: the intent classifier and entity patterns."""

    intent: IntentSettings = IntentSettings()
    faq_out_of_scope: bool = Field(
        True,
        description="train the FAQ questions as out-of-scope examples, so a question the FAQ "
        "answers is not mistaken for a flow's intent",
    )
    order_id_patterns: list[str] = Field(
        default_factory=list,
        description="regular expressions of the shop's order numbers (e.g. '#?W\\d{7}')",
    )

    @field_validator("order_id_patterns")
    @classmethod
    def _valid_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return value


def check_template(text: str) -> str:
    """Fail at load, not in front of a customer, when a template does not parse."""
    try:
        _ENVIRONMENT.parse(text)
    except TemplateSyntaxError as exc:
        raise ValueError(f"template error on line {exc.lineno}: {exc.message}") from None
    return text


def _localized_template(value: Any) -> Any:
    value = localize(value)
    if isinstance(value, dict):
        for text in value.values():
            if isinstance(text, str):
                check_template(text)
    return value


class SlotConfig(Strict):
    """One piece of information a flow needs, and how to ask for it."""

    name: str = Field(description="slot name, used in templates and tool arguments")
    entity: str | list[str] | None = Field(
        None,
        description="entity type(s) that fill it (order_id, phone, email, date, amount…)",
    )
    pattern: str | None = Field(
        None, description="regular expression that fills it (group 1 if any, else the match)"
    )
    choices: dict[str, list[str]] | None = Field(
        None, description="allowed values, each with the words customers use for it"
    )
    ask: LocalizedText = Field(description="the question that asks for it")
    retry: LocalizedText | None = Field(
        None, description="asked instead when the answer was not understood"
    )
    required: bool = True
    remember: bool = Field(
        False,
        description="keep the value for the rest of the conversation (e.g. who the customer is)",
    )

    @property
    def entity_types(self) -> tuple[str, ...]:
        if self.entity is None:
            return ()
        return (self.entity,) if isinstance(self.entity, str) else tuple(self.entity)

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not IDENTIFIER.match(value):
            raise ValueError("must be a lowercase identifier (a-z, 0-9, _)")
        return value

    @field_validator("ask", "retry", mode="before")
    @classmethod
    def _localized(cls, value: Any) -> Any:
        return _localized_template(value)

    @field_validator("pattern")
    @classmethod
    def _valid_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _has_a_source(self) -> SlotConfig:
        if self.entity is None and self.pattern is None and self.choices is None:
            raise ValueError(f"slot {self.name!r} needs one of: entity, pattern, choices")
        return self


class ActionStep(Strict):
    """One tool call of a flow's action. Argument values are templates over the slots and the
    results saved so far; a value that is exactly ``{{ expression }}`` keeps its type."""

    tool: str
    arguments: dict[str, Any] | None = Field(
        None, description="argument templates (default: the slots, by name)"
    )
    save_as: str | None = Field(None, description="name of the result in later templates")

    @field_validator("save_as")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not IDENTIFIER.match(value):
            raise ValueError("must be a lowercase identifier (a-z, 0-9, _)")
        return value

    @field_validator("arguments")
    @classmethod
    def _templates(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for item in (value or {}).values():
            if isinstance(item, str):
                check_template(item)
        return value


class FlowConfig(Strict):
    """Intent → required slots (asked for) → action → answer."""

    name: str
    intent: str = Field(description="the intent label that starts the flow")
    slots: list[SlotConfig] = Field(default_factory=list)
    action: str | list[ActionStep] | None = Field(
        None, description="a tool called with the slots, or steps of tool calls (optional)"
    )
    knowledge: str | None = Field(
        None,
        description="a question (template) looked up in the knowledge base; the best "
        "passage is `knowledge` in the answer and is listed as a source",
    )
    answer: LocalizedText = Field(description="Jinja2 template over the slots and `result`")
    confirm: LocalizedText | None = Field(
        None,
        description="question asked before a state-changing action (a tool with confirm: true)",
    )
    failure: LocalizedText | None = Field(
        None, description="reply when the action fails (default: the tool's degraded reply)"
    )
    max_asks: int = Field(
        3, ge=1, le=10, description="failed asks of one slot before the flow hands over"
    )

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not IDENTIFIER.match(value):
            raise ValueError("must be a lowercase identifier (a-z, 0-9, _)")
        return value

    @field_validator("intent")
    @classmethod
    def _label(cls, value: str) -> str:
        if not INTENT_LABEL.match(value):
            raise ValueError("must be a dotted lowercase label such as after_sales.refund")
        return value

    @property
    def steps(self) -> tuple[ActionStep, ...]:
        """The action as tool calls (a plain tool name is one step with the slots)."""
        if self.action is None:
            return ()
        if isinstance(self.action, str):
            return (ActionStep(tool=self.action, save_as="result"),)
        return tuple(self.action)

    @field_validator("knowledge")
    @classmethod
    def _knowledge_template(cls, value: str | None) -> str | None:
        return check_template(value) if value is not None else None

    @field_validator("answer", "confirm", "failure", mode="before")
    @classmethod
    def _localized(cls, value: Any) -> Any:
        return _localized_template(value)

    @model_validator(mode="after")
    def _unique_slots(self) -> FlowConfig:
        names = [slot.name for slot in self.slots]
        if len(names) != len(set(names)):
            raise ValueError(f"flow {self.name!r} names a slot twice")
        return self


def intent_examples(value: Any) -> dict[str, list[str]]:
    """Validate the ``intents`` mapping: label → non-empty list of example utterances."""
    if not isinstance(value, dict):
        raise ValueError("must map intent labels to lists of example utterances")
    examples: dict[str, list[str]] = {}
    for label, texts in value.items():
        if not isinstance(label, str) or not INTENT_LABEL.match(label):
            raise ValueError(f"{label!r}: labels are dotted lowercase names (order.status)")
        if not isinstance(texts, list) or not texts:
            raise ValueError(f"{label}: give a list of example utterances")
        cleaned = [str(text).strip() for text in texts if str(text).strip()]
        if not cleaned:
            raise ValueError(f"{label}: the examples are empty")
        examples[label] = cleaned
    return examples
