"""The ``handoff:`` section of an app file: when the bot hands over to a human, and how.

Explicit requests (转人工, "talk to a human"), flows that failed their asks and tools marked
``handoff_on_failure`` always hand over; the streaks and rules here add triggers, business
hours turn a hand-over outside them into a ticket, and webhooks tell an outside desk.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from kefu.appfile._clock import ClockTime, TimeZoneName
from kefu.appfile._strict import Strict
from kefu.core.localized import LocalizedText, localize

__all__ = [
    "WEBHOOK_EVENTS",
    "BusinessHours",
    "HandoffConfig",
    "HandoffReplies",
    "HandoffRule",
    "WebhookConfig",
]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WebhookEvent = Literal["handoff", "message", "reply", "note", "assign", "resolve", "ticket", "csat"]
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = (
    "handoff", "message", "reply", "note", "assign", "resolve", "ticket", "csat",
)  # fmt: skip
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class BusinessHours(Strict):
    """When agents are at work; outside these hours a hand-over becomes a ticket."""

    timezone: TimeZoneName = "Asia/Shanghai"
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    open: ClockTime = dt.time(9, 0)
    close: ClockTime = Field(dt.time(22, 0), description="before `open`: the hours span midnight")

    def is_open(self, now: dt.datetime) -> bool:
        """Whether ``now`` (timezone-aware) falls inside the hours."""
        local = now.astimezone(zoneinfo.ZoneInfo(self.timezone))
        day = WEEKDAYS[local.weekday()]
        moment = local.time().replace(tzinfo=None)
        if self.open < self.close:
            return day in self.days and self.open <= moment < self.close
        if self.open == self.close:  # around the clock on the listed days
            return day in self.days
        if moment >= self.open:  # the evening part belongs to today
            return day in self.days
        yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
        return moment < self.close and yesterday in self.days


class HandoffRule(Strict):
    """Hand over when the message's intent (and amount) match, e.g. refunds above 500."""

    intent: str | None = Field(
        None, description="intent label; a parent label matches its children"
    )
    amount_above: Decimal | None = Field(
        None, ge=0, description="an amount in the message or the flow's slots above this"
    )
    reason: str = Field("rule", max_length=64, description="recorded as the hand-over reason")

    @model_validator(mode="after")
    def _has_a_condition(self) -> HandoffRule:
        if self.intent is None and self.amount_above is None:
            raise ValueError("a rule needs `intent`, `amount_above` or both")
        return self


class WebhookConfig(Strict):
    """An outgoing webhook, signed with HMAC-SHA256 (see docs/handoff.md)."""

    url: str = Field(pattern=r"^https?://", description="where events are POSTed")
    events: list[WebhookEvent] = Field(default_factory=lambda: list(WEBHOOK_EVENTS))
    secret_env: str | None = Field(None, description="environment variable holding the secret")
    secret: SecretStr | None = Field(None, description="the secret itself (prefer secret_env)")
    max_attempts: int = Field(5, ge=1, le=20)
    timeout_s: float = Field(5.0, gt=0, le=60)

    @field_validator("secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("must be an environment variable name such as KEFU_WEBHOOK_SECRET")
        return value

    @model_validator(mode="after")
    def _has_a_secret(self) -> WebhookConfig:
        if (self.secret_env is None) == (self.secret is None):
            raise ValueError("give exactly one of `secret_env` and `secret`")
        return self

    def resolve_secret(self, environ: dict[str, str] | None = None) -> bytes | None:
        """The signing key, or None when its environment variable is not set."""
        if self.secret is not None:
            return self.secret.get_secret_value().encode()
        value = (os.environ if environ is None else environ).get(self.secret_env or "")
        return value.encode() if value else None


class HandoffReplies(Strict):
    """What the customer is told around a hand-over."""

    after_hours: LocalizedText = LocalizedText(
        zh="人工客服现在不在线（服务时间 {hours}）。已为您登记工单 {ticket}，我们会尽快联系您。",
        en="Our agents are offline now (hours: {hours}). We've opened ticket {ticket} "
        "for you and will get back to you soon.",
    )
    resolved: LocalizedText = LocalizedText(
        zh="本次人工服务已结束，智能客服将继续为您服务。",
        en="The agent has closed this chat; the virtual assistant is back to help you.",
    )
    csat_question: LocalizedText = LocalizedText(
        zh="请为本次人工服务打分（1-5 分），也欢迎留下您的意见。",
        en="How would you rate the agent's help (1-5)? Comments are welcome too.",
    )

    @field_validator("after_hours", "resolved", "csat_question", mode="before")
    @classmethod
    def _accept_plain_string(cls, value: Any) -> Any:
        return localize(value)


class HandoffConfig(Strict):
    """The app's hand-over policy (``handoff:`` in the app YAML)."""

    enabled: bool = Field(True, description="false: the bot never hands over")
    escalate: bool = Field(
        True,
        description="hand over at once on a legal threat, a safety incident, fraud or a "
        "complaint (kefu.nlu.escalation)",
    )
    negative_streak: int = Field(
        0, ge=0, le=100, description="hand over after this many negative messages in a row (0: off)"
    )
    unanswered_streak: int = Field(
        0, ge=0, le=100, description="hand over after this many unanswered questions (0: off)"
    )
    rules: list[HandoffRule] = Field(default_factory=list)
    business_hours: BusinessHours | None = Field(None, description="none: agents always on")
    auto_assign: bool = Field(True, description="assign round-robin among online agents")
    csat: bool = Field(True, description="ask the customer to rate the agent after resolve")
    llm_summary: bool = Field(
        False, description="with a model: add a model-written summary to the handover note"
    )
    replies: HandoffReplies = HandoffReplies()
    webhooks: list[WebhookConfig] = Field(default_factory=list)
