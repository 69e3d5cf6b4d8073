"""``GET /admin/apps/{name}/analytics`` (JSON) and ``…/analytics.csv``: service analytics
per day — conversations, containment, hand-overs and why, fallbacks, ratings, agents'
handling time, top intents, top unanswered questions, tokens and cost (admin key).
The definitions are in :mod:`kefu.services.analytics` and docs/analytics.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from kefu.api.deps import AdminAuth, RuntimeDep
from kefu.api.responses import json_response
from kefu.api.routes.knowledge_gaps import gap_json
from kefu.services.analytics import AnalyticsReport, report_csv

__all__ = ["router"]

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminAuth])

DayParam = Annotated[
    str | None, Query(max_length=10, description="first/last day, YYYY-MM-DD (inclusive)")
]
TzParam = Annotated[
    str | None,
    Query(max_length=64, description="IANA time zone of the days (default: the app's hours)"),
]


def report_json(report: AnalyticsReport) -> dict[str, Any]:
    return {
        "app": report.app,
        "timezone": report.timezone,
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "currency": report.currency,
        "total": report.total.as_json(),
        "days": [day.as_json() for day in report.days],
        "handoff_reasons": [
            {"reason": reason, "count": count} for reason, count in report.handoff_reasons.items()
        ],
        "top_intents": [{"intent": name, "count": count} for name, count in report.top_intents],
        "agents": [agent.as_json() for agent in report.agents],
        "unanswered": [gap_json(group) for group in report.unanswered],
        "proactive": report.proactive.as_json(),
    }


@dataclass(frozen=True, slots=True)
class Window:
    """The report's days and time zone, as the query string gives them."""

    start: str | None
    end: str | None
    tz: str | None


def window(
    start: Annotated[DayParam, Query(alias="from")] = None,
    end: Annotated[DayParam, Query(alias="to")] = None,
    tz: TzParam = None,
) -> Window:
    return Window(start, end, tz)


WindowDep = Annotated[Window, Depends(window)]


@router.get("/apps/{name}/analytics")
async def analytics(name: str, runtime: RuntimeDep, days: WindowDep) -> Response:
    """The app's figures per day from ``from`` to ``to`` (default: the last 7 days)."""
    app = runtime.apps.get(name)
    report = await runtime.analytics.report(app, days.start, days.end, days.tz)
    return json_response(report_json(report))


@router.get("/apps/{name}/analytics.csv")
async def analytics_csv(name: str, runtime: RuntimeDep, days: WindowDep) -> Response:
    """The same figures, a row per day and a totals row, for a spreadsheet."""
    app = runtime.apps.get(name)
    report = await runtime.analytics.report(app, days.start, days.end, days.tz, unanswered=False)
    filename = f"kefu-{app.name}-{report.start.isoformat()}-{report.end.isoformat()}.csv"
    return Response(
        # A BOM so that Excel opens the UTF-8 file as UTF-8 (Chinese reasons and intents).
        "\ufeff" + report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
