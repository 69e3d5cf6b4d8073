"""Service analytics: the figures customer service is judged by, per day and app.

Computed from stored conversations, messages, hand-over events and ratings
(``Store.analytics.history``), never from counters, so they can be recomputed for any
window and agree with what the console shows. The definitions (docs/analytics.md):

- **conversations**: conversations started that day (in the report's time zone).
- **contained**: of those, the ones in which the customer never reached a human: no
  hand-over was requested (by the customer, a rule or the bot) and no after-hours ticket
  was opened. Containment is *not* resolution: a customer who gave up is contained too;
  CSAT, dislikes and fallbacks are what hint at that.
- **hand-over rate**: escalated conversations / conversations (= 1 − containment); the
  reasons are those of each conversation's first hand-over in the window.
- **fallback rate**: bot answers that were the fallback reply / all bot answers that day.
- **handling time**: from an agent taking a hand-over (claim or assignment) to resolving
  it, counted on the day it was resolved; **waiting time**: from the request to the take.
- **CSAT**: the 1-5 ratings given that day; like/dislike: feedback on answers that day.
- **tokens and cost**: the model's tokens of that day's turns; the cost uses the app's
  primary model price (``llm.price``), so it is an estimate when fallbacks answered.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from anyio import to_thread

from kefu.appfile.llm_config import TokenPrice
from kefu.core.analytics_records import HandoffEventFact, ServiceHistory
from kefu.core.errors import InvalidParam
from kefu.core.ids import utcnow
from kefu.services.knowledge_gaps import GapGroup, find_gaps
from kefu.services.proactive_analytics import OfferFigures, ProactiveFigures, offer_figures
from kefu.services.registry import AppRuntime
from kefu.store import Store

__all__ = [
    "CSV_COLUMNS",
    "MAX_DAYS",
    "AgentFigures",
    "AnalyticsReport",
    "AnalyticsService",
    "DayFigures",
    "build_report",
    "report_csv",
    "resolve_window",
]

MAX_DAYS = 366
TOP_INTENTS = 10
TOP_UNANSWERED = 10
_HUMAN_SIDE = frozenset({"pending_human", "human"})
_STARTS_FROM = frozenset({"bot", "resolved"})  # a move from these into the humans' hands
TICKET_REASON = "after_hours_ticket"


@dataclass(slots=True)
class DayFigures:
    """One day's figures (or the window's, for the totals row)."""

    day: str  # YYYY-MM-DD, or "total"
    conversations: int = 0
    contained: int = 0
    handed_over: int = 0
    bot_answers: int = 0
    fallbacks: int = 0
    likes: int = 0
    dislikes: int = 0
    csat_count: int = 0
    csat_sum: int = 0
    handled: int = 0  # hand-overs resolved
    handling_s_sum: float = 0.0
    taken: int = 0  # hand-overs an agent took
    waiting_s_sum: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None

    @property
    def containment_rate(self) -> float | None:
        return _ratio(self.contained, self.conversations)

    @property
    def handoff_rate(self) -> float | None:
        return _ratio(self.handed_over, self.conversations)

    @property
    def fallback_rate(self) -> float | None:
        return _ratio(self.fallbacks, self.bot_answers)

    @property
    def csat_avg(self) -> float | None:
        return _ratio(self.csat_sum, self.csat_count)

    @property
    def avg_handling_s(self) -> float | None:
        return _ratio(self.handling_s_sum, self.handled)

    @property
    def avg_waiting_s(self) -> float | None:
        return _ratio(self.waiting_s_sum, self.taken)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def tokens_per_conversation(self) -> float | None:
        return _ratio(self.tokens, self.conversations)

    @property
    def cost_per_conversation(self) -> float | None:
        return None if self.cost is None else _ratio(self.cost, self.conversations)

    def add(self, other: DayFigures) -> None:
        for name in (
            "conversations", "contained", "handed_over", "bot_answers", "fallbacks", "likes",
            "dislikes", "csat_count", "csat_sum", "handled", "handling_s_sum", "taken",
            "waiting_s_sum", "prompt_tokens", "completion_tokens",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.cost is not None:
            self.cost = (self.cost or 0.0) + other.cost

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)
        for name in (
            "containment_rate", "handoff_rate", "fallback_rate", "csat_avg", "avg_handling_s",
            "avg_waiting_s", "tokens", "tokens_per_conversation", "cost_per_conversation",
        ):  # fmt: skip
            value = getattr(self, name)
            data[name] = round(value, 4) if isinstance(value, float) else value
        if isinstance(self.cost, float):
            data["cost"] = round(self.cost, 6)
        return data


@dataclass(slots=True)
class AgentFigures:
    agent_id: str
    name: str
    handled: int = 0
    handling_s_sum: float = 0.0
    csat_count: int = 0
    csat_sum: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "handled": self.handled,
            "avg_handling_s": _rounded(_ratio(self.handling_s_sum, self.handled)),
            "csat_count": self.csat_count,
            "csat_avg": _rounded(_ratio(self.csat_sum, self.csat_count)),
        }


@dataclass(slots=True)
class AnalyticsReport:
    app: str
    timezone: str
    start: date
    end: date  # inclusive
    currency: str | None
    days: list[DayFigures]
    total: DayFigures
    handoff_reasons: dict[str, int] = field(default_factory=dict)
    top_intents: list[tuple[str, int]] = field(default_factory=list)
    agents: list[AgentFigures] = field(default_factory=list)
    unanswered: list[GapGroup] = field(default_factory=list)
    # Proactive offers of help made in the window (kefu.services.proactive_analytics).
    proactive: ProactiveFigures = field(
        default_factory=lambda: ProactiveFigures(OfferFigures("total"), [])
    )


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def resolve_window(
    start: str | None, end: str | None, tz: str, today: date | None = None
) -> tuple[date, date, zoneinfo.ZoneInfo]:
    """Parse the request's window: ``end`` defaults to today, ``start`` to 6 days before."""
    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidParam(f"unknown time zone {tz!r} (e.g. Asia/Shanghai, UTC)") from None
    try:
        last = date.fromisoformat(end) if end else (today or utcnow().astimezone(zone).date())
        first = date.fromisoformat(start) if start else last - timedelta(days=6)
    except ValueError:
        raise InvalidParam("from and to are dates like 2026-12-01") from None
    if first > last:
        raise InvalidParam("from must not be after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidParam(f"at most {MAX_DAYS} days per report")
    return first, last, zone


def _bounds(first: date, last: date, zone: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
    since = datetime.combine(first, time(0), zone).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    return since, until


def _cost(prompt: int, completion: int, price: TokenPrice | None) -> float | None:
    if price is None:
        return None
    return (prompt * price.input_per_million + completion * price.output_per_million) / 1e6


def _hand_overs(
    events: Iterable[HandoffEventFact],
) -> dict[str, tuple[datetime, str | None]]:
    """Each conversation's first hand-over start in the window: when, and why."""
    first: dict[str, tuple[datetime, str | None]] = {}
    for event in events:
        if event.from_state in _STARTS_FROM and event.to_state in _HUMAN_SIDE:
            first.setdefault(event.conversation_id, (event.at, event.reason))
    return first


def build_report(
    app_name: str,
    history: ServiceHistory,
    first: date,
    last: date,
    zone: zoneinfo.ZoneInfo,
    price: TokenPrice | None = None,
) -> AnalyticsReport:
    """The per-day figures of ``history`` (see the module's definitions)."""

    def day_of(moment: datetime) -> str:
        return moment.astimezone(zone).date().isoformat()

    span = (last - first).days + 1
    days = {
        (first + timedelta(days=n)).isoformat(): DayFigures((first + timedelta(days=n)).isoformat())
        for n in range(span)
    }

    def figures(moment: datetime) -> DayFigures | None:
        return days.get(day_of(moment))

    started = _hand_overs(history.events)
    ticketed = {t.conversation_id for t in history.turns if t.route == "ticket"}
    reasons: Counter[str] = Counter()
    for conversation in history.conversations:
        day = figures(conversation.created_at)
        if day is None:
            continue
        day.conversations += 1
        if conversation.id in started:
            reason = started[conversation.id][1] or conversation.handoff_reason or "unknown"
        elif conversation.handoff_at is not None:  # handed over before events were kept
            reason = conversation.handoff_reason or "unknown"
        elif conversation.id in ticketed:
            reason = TICKET_REASON
        else:
            day.contained += 1
            continue
        day.handed_over += 1
        reasons[reason] += 1

    intents: Counter[str] = Counter()
    for turn in history.turns:
        day = figures(turn.created_at)
        if day is None:
            continue
        day.prompt_tokens += turn.prompt_tokens
        day.completion_tokens += turn.completion_tokens
        if turn.by_agent or turn.route == "human":
            continue  # an agent's reply, or a message the agent answers
        day.bot_answers += 1
        day.fallbacks += turn.route == "fallback"
        if turn.intent:
            intents[turn.intent] += 1

    for feedback in history.feedback:
        day = figures(feedback.created_at)
        if day is not None:
            day.likes += feedback.rating == "like"
            day.dislikes += feedback.rating == "dislike"

    agents: dict[str, AgentFigures] = {}

    def agent(agent_id: str) -> AgentFigures:
        if agent_id not in agents:
            name = history.agent_names.get(agent_id, agent_id)
            agents[agent_id] = AgentFigures(agent_id, name)
        return agents[agent_id]

    for csat in history.csat:
        day = figures(csat.created_at)
        if day is None:
            continue
        day.csat_count += 1
        day.csat_sum += csat.rating
        if csat.agent_id:
            agent(csat.agent_id).csat_count += 1
            agent(csat.agent_id).csat_sum += csat.rating

    # Hand-over episodes, event by event: request → taken by an agent → resolved.
    requested: dict[str, datetime] = {}
    taken: dict[str, datetime] = {}
    for event in history.events:
        cid = event.conversation_id
        if event.from_state in _STARTS_FROM and event.to_state in _HUMAN_SIDE:
            requested[cid] = event.at
            taken.pop(cid, None)
        if event.to_state == "human" and cid not in taken:
            taken[cid] = event.at
            if cid in requested and (day := figures(event.at)) is not None:
                day.taken += 1
                day.waiting_s_sum += (event.at - requested[cid]).total_seconds()
        if event.to_state == "resolved":
            began = taken.pop(cid, None) or requested.get(cid)
            requested.pop(cid, None)
            day = figures(event.at)
            if began is None or day is None:
                continue  # the episode began before the window
            seconds = (event.at - began).total_seconds()
            day.handled += 1
            day.handling_s_sum += seconds
            if event.agent_id:
                agent(event.agent_id).handled += 1
                agent(event.agent_id).handling_s_sum += seconds

    total = DayFigures("total")
    for day in days.values():
        day.cost = _cost(day.prompt_tokens, day.completion_tokens, price)
        total.add(day)
    return AnalyticsReport(
        app=app_name,
        timezone=str(zone.key),
        start=first,
        end=last,
        currency=price.currency if price else None,
        days=list(days.values()),
        total=total,
        handoff_reasons=dict(reasons.most_common()),
        top_intents=intents.most_common(TOP_INTENTS),
        agents=sorted(agents.values(), key=lambda a: (-a.handled, a.name)),
    )


CSV_COLUMNS = (
    "day", "conversations", "contained", "containment_rate", "handed_over", "handoff_rate",
    "bot_answers", "fallbacks", "fallback_rate", "likes", "dislikes", "csat_count", "csat_avg",
    "handled", "avg_handling_s", "taken", "avg_waiting_s", "prompt_tokens",
    "completion_tokens", "tokens_per_conversation", "cost", "cost_per_conversation",
)  # fmt: skip


def report_csv(report: AnalyticsReport) -> str:
    """One row per day and a totals row; rates as fractions, empty where undefined."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for day in [*report.days, report.total]:
        data = day.as_json()
        writer.writerow(["" if data[c] is None else data[c] for c in CSV_COLUMNS])
    return out.getvalue()


class AnalyticsService:
    """Reports for the admin API and the console's dashboard."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def default_timezone(app: AppRuntime) -> str:
        hours = app.config.handoff.business_hours
        return hours.timezone if hours else "UTC"

    async def report(
        self,
        app: AppRuntime,
        start: str | None,
        end: str | None,
        tz: str | None,
        *,
        unanswered: bool = True,
    ) -> AnalyticsReport:
        first, last, zone = resolve_window(start, end, tz or self.default_timezone(app))
        since, until = _bounds(first, last, zone)

        def compute() -> AnalyticsReport:
            history = self._store.analytics.history(app.id, since, until)
            report = build_report(app.name, history, first, last, zone, app.config.llm.price)
            report.proactive = offer_figures(
                self._store.proactive.offers_between(app.id, since, until)
            )
            if unanswered:
                days = max(1, (until - since).days)
                gaps = find_gaps(
                    self._store,
                    app.id,
                    app.name,
                    days,
                    TOP_UNANSWERED,
                    now=until,
                    embedder=app.index.embedder,
                )
                report.unanswered = gaps.groups
            return report

        return await to_thread.run_sync(compute)
