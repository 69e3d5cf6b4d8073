"""The ``proactive:`` section of an app file: rules that offer help when a customer does
something (opens the refund page twice, leaves a full cart…) — docs/proactive.md.

A rule names an event (``page_view``, ``cart``, ``order_paid`` or a custom name), the
conditions the event must meet, how many such events within a window make it fire, and the
message offered (Chinese and English). It fires at most once per ``cooldown_s`` for a
visitor, at most ``max_per_visitor`` times in all, never in its quiet hours.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from pydantic import Field, field_validator, model_validator

from kefu.appfile._clock import ClockTime, TimeZoneName
from kefu.appfile._strict import Strict
from kefu.core.localized import LocalizedText, localize

__all__ = [
    "EVENT_NAME_PATTERN",
    "ProactiveConfig",
    "ProactiveRule",
    "PropertyCondition",
    "QuietHours",
    "RuleConditions",
]

EVENT_NAME_PATTERN = r"^[a-z0-9_.-]{1,64}$"
_RULE_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
Scalar = str | int | float | bool


class QuietHours(Strict):
    """When no offer is made (at night, say); ``end`` before ``start`` spans midnight."""

    start: ClockTime
    end: ClockTime
    timezone: TimeZoneName = "Asia/Shanghai"

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are the same time: the quiet hours would be empty")
        return self

    def contains(self, now: dt.datetime) -> bool:
        """Whether ``now`` (timezone-aware) is quiet."""
        moment = now.astimezone(zoneinfo.ZoneInfo(self.timezone)).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # across midnight


class PropertyCondition(Strict):
    """A test of one event property; every test given must hold."""

    equals: Scalar | None = None
    not_equals: Scalar | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    contains: str | None = Field(None, max_length=256, description="a substring of the value")
    exists: bool | None = Field(None, description="true: the property is present; false: absent")

    @model_validator(mode="after")
    def _some_test(self) -> PropertyCondition:
        if not self.model_fields_set:
            raise ValueError("give at least one test: equals, not_equals, gt, gte, lt, lte…")
        return self


class RuleConditions(Strict):
    """What the event must look like, and how many such events make the rule fire.

    The page is the event's ``path`` property, else the path of its ``url`` property."""

    path_prefix: str | None = Field(None, max_length=512, description="the page path starts so")
    path_regex: str | None = Field(None, max_length=512, description="searched in the page path")
    url_contains: str | None = Field(None, max_length=512, description="a substring of the URL")
    properties: dict[str, PropertyCondition] = Field(
        default_factory=dict, description="property name → its test (a.b reaches nested ones)"
    )
    min_count: int = Field(
        1, ge=1, le=100, description="fire on the Nth matching event of the visitor (2: 2nd visit)"
    )
    window_s: int = Field(
        1800,
        ge=1,
        le=7 * 86400,
        description="the matching events counted for min_count are this recent (a session)",
    )

    @field_validator("path_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"path_regex is not a regular expression: {exc}") from None
        return value

    @field_validator("properties")
    @classmethod
    def _few_properties(cls, value: dict[str, PropertyCondition]) -> dict[str, PropertyCondition]:
        if len(value) > 20:
            raise ValueError("at most 20 property conditions per rule")
        return value


class ProactiveRule(Strict):
    """One offer of help: when, and what is said."""

    name: str = Field(pattern=_RULE_NAME, description="shown in analytics; unique in the app")
    event: str = Field(pattern=EVENT_NAME_PATTERN, description="page_view, cart, order_paid…")
    conditions: RuleConditions = Field(default_factory=RuleConditions)
    message: LocalizedText
    cooldown_s: int = Field(
        3600, ge=0, le=365 * 86400, description="the least time between two offers of the rule"
    )
    max_per_visitor: int | None = Field(
        None, ge=1, le=1000, description="offers of the rule to one visitor in all (none: no cap)"
    )
    quiet_hours: QuietHours | None = None
    enabled: bool = True

    @field_validator("message", mode="before")
    @classmethod
    def _accept_plain_string(cls, value: Any) -> Any:
        return localize(value)

    @field_validator("message")
    @classmethod
    def _says_something(cls, value: LocalizedText) -> LocalizedText:
        if not value.zh.strip() or not value.en.strip():
            raise ValueError("the message needs text in zh and en")
        if max(len(value.zh), len(value.en)) > 1000:
            raise ValueError("the message is longer than 1000 characters")
        return value


class ProactiveConfig(Strict):
    """Proactive offers of help (none by default)."""

    rules: list[ProactiveRule] = Field(default_factory=list)
    quiet_hours: QuietHours | None = Field(
        None, description="for every rule without quiet hours of its own"
    )

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, value: list[ProactiveRule]) -> list[ProactiveRule]:
        seen: set[str] = set()
        for rule in value:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}")
            seen.add(rule.name)
        if len(value) > 100:
            raise ValueError("at most 100 rules per app")
        return value

    def rules_for(self, event: str) -> list[ProactiveRule]:
        return [rule for rule in self.rules if rule.enabled and rule.event == event]

    def quiet_hours_of(self, rule: ProactiveRule) -> QuietHours | None:
        return rule.quiet_hours or self.quiet_hours

    def rule(self, name: str) -> ProactiveRule | None:
        return next((rule for rule in self.rules if rule.name == name), None)
