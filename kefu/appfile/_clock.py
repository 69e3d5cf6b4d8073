"""Clock times and time zones as app files write them, for every section with hours
(``handoff.business_hours``, ``proactive`` quiet hours)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

__all__ = ["ClockTime", "TimeZoneName"]


def _yaml_sexagesimal(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 22:00 as the number 1320 (minutes); 24:00 is midnight.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 24 * 60:
        return dt.time((value // 60) % 24, value % 60)
    if value in ("24:00", "24:00:00"):
        return dt.time(0, 0)
    return value


def _known_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai, UTC)") from None
    return value


ClockTime = Annotated[dt.time, BeforeValidator(_yaml_sexagesimal)]
TimeZoneName = Annotated[str, AfterValidator(_known_timezone)]
