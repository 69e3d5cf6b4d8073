"""Dates and relative dates in Chinese and English, resolved against an injectable ``today``.

Written by hand rather than with ``dateparser``: that library takes ~0.3 s to import and
milliseconds per call (this runs on every message), it looks for dates everywhere rather than
in the few shapes customers write, and it resolves Chinese relative expressions (上周三, 两周前,
这个月, 5号) poorly or not at all. Customer-service messages use a small, closed set of shapes,
so one precompiled regex per language, tried only when a word it needs occurs, covers them
in microseconds and resolves them exactly the way we document:

* 上周/last week → Monday..Sunday of the previous week; 上个月/last month → that month;
  去年 → that year (each a :class:`DateRange`).
* A bare weekday (周五, 星期五, on Friday) is that day of the current Monday..Sunday week;
  上周三 / 下周三 are that day of the previous / next week. English "last Monday" is the most
  recent Monday before today, "next Monday" the Monday of next week.
* A month and day without a year (3月5日, March 5) is in the current year; 5号 alone is in the
  current month. Impossible dates (2月30日) are not entities.
* N天前 / N days ago are single days; N周前 / N weeks ago are 7·N days back; N个月前 moves
  the month (clamping the day).

Numeric month-first dates (3/5/2024) are not read: 3/5 is March 5 to one customer and 3 May
to the next.
"""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Iterator

from kefu.core.regex_prefilter import LiteralPrefilter
from kefu.nlu.entities._text import parse_number
from kefu.nlu.entities._types import DateRange

__all__ = ["find_dates"]

_Value = datetime.date | DateRange

# --- Chinese ---------------------------------------------------------------------------------
_N = r"(?:\d{1,2}|[一二三四五六七八九十两]{1,3})"  # a day or month number
_NOT_AFTER_NUMBER = r"(?<![\d零〇一二三四五六七八九十两百千万])"
_WEEK = r"(?:周|星期|礼拜)"
_WEEKDAY = r"[一二三四五六日天末1-7]"
_YEAR_WORDS = {"前年": -2, "去年": -1, "今年": 0, "明年": 1}
_ZH = re.compile(
    # 2024年3月5日, 2024年3月, 2024年, 今年3月5号, 去年3月
    rf"(?P<year>(?:{_NOT_AFTER_NUMBER}(?P<y>\d{{4}}|[零〇一二三四五六七八九]{{4}})年"
    rf"|(?P<yw>前年|去年|今年|明年))(?:(?P<ym>{_N})月份?(?:(?P<yd>{_N})[日号])?)?)"
    # 2024-03-05, 2024/3/5, 2024.3.5
    rf"|(?P<iso>{_NOT_AFTER_NUMBER}(?P<iy>\d{{4}})(?P<sep>[-/.])(?P<im>\d{{1,2}})(?P=sep)"
    r"(?P<id>\d{1,2})(?![\d.]))"
    # 三天前, 3天后, 两周前, 一个星期前, 3个月前, 半年前
    rf"|(?P<ago>{_NOT_AFTER_NUMBER}(?P<an>{_N}|\d{{1,3}}|半)"
    rf"(?P<au>天|日|个?{_WEEK}|个月|年)(?P<ad>以前|之前|前|以后|之后|后))"
    # 3月5日, 3月5号, 3月, 3月份
    rf"|(?P<md>{_NOT_AFTER_NUMBER}(?P<mm>{_N})月份?(?:(?P<md_d>{_N})[日号])?)"
    # 5号, 21日 — not 3号楼 / 2号线, not 7日无理由 / 15日内 (a span of days)
    rf"|(?P<day>{_NOT_AFTER_NUMBER}(?P<dn>{_N})"
    r"(?:号(?![楼线门房室店仓栋单元机位码院床])|日(?![内无以之起前后])))"
    r"|(?P<rel_day>大前天|前天|昨天|昨日|今天|今日|明天|明日|大后天|后天)"
    # 上周, 上周三, 这个星期五, 下礼拜, 本周末
    rf"|(?P<week>(?P<wo>上上|下下|上|下|这|本)个?{_WEEK}(?P<wd>{_WEEKDAY})?)"
    rf"|(?P<weekday>{_WEEK}(?P<bwd>{_WEEKDAY}))"
    r"|(?P<month>(?P<mo>上上|上|这|本|下)个?月)",
    # ``\d`` is 0-9: other scripts' digits (١٢٣٤-٠٣-٠٥) are not dates we read
    re.ASCII,
)
_REL_DAYS = {
    "大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0,
    "明天": 1, "明日": 1, "后天": 2, "大后天": 3,
}  # fmt: skip
_OFFSETS = {"上上": -2, "上": -1, "这": 0, "本": 0, "下": 1, "下下": 2}
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}

# --- English ---------------------------------------------------------------------------------
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_EN_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_COUNTS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2,
}  # fmt: skip
_COUNT = r"(?:\d{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten|a\s+couple\s+of)"
_UNIT = r"(?:days?|weeks?|months?|years?)"
_ORD = r"(?:st|nd|rd|th)?"
_EN = re.compile(
    r"\b(?:"
    r"(?P<e_rel_day>(?:the\s+)?day\s+before\s+yesterday|(?:the\s+)?day\s+after\s+tomorrow"
    r"|today|yesterday|tomorrow)"
    r"|(?P<e_span>(?P<e_so>last|this|next)\s+(?P<e_su>week|weekend|month|year))"
    r"|(?P<e_weekday>(?:(?P<e_wo>last|this|next|on)\s+)?"
    r"(?P<e_wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday))"
    rf"|(?P<e_md>(?P<e_mon>{_MONTH})\.?\s+(?P<e_mday>\d{{1,2}}){_ORD}(?:,?\s+(?P<e_my>\d{{4}}))?)"
    rf"|(?P<e_dm>(?P<e_dday>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<e_dmon>{_MONTH})\.?"
    r"(?:,?\s+(?P<e_dy>\d{4}))?)"
    rf"|(?P<e_ago>(?P<e_an>{_COUNT})\s+(?P<e_au>{_UNIT})\s+(?P<e_ad>ago|later|from\s+now))"
    rf"|(?P<e_in>in\s+(?P<e_in_n>{_COUNT})\s+(?P<e_in_u>{_UNIT}))"
    r")\b",
    re.IGNORECASE | re.ASCII,
)


# The words without which neither regex can match (月, 号, 天前, today, week, may…): most
# messages hold none, and a pass for them costs a fraction of the two scans.
_PREFILTER = LiteralPrefilter([_ZH, _EN])


def find_dates(text: str, today: datetime.date) -> Iterator[tuple[int, int, _Value]]:
    """``(start, end, value)`` for each date in ``text`` (already width-folded)."""
    may_match = _PREFILTER.candidates(text)
    if 0 in may_match:
        for match in _ZH.finditer(text):
            value = _resolve_zh(match, today)
            if value is not None:
                yield match.start(), match.end(), value
    if 1 in may_match:
        for match in _EN.finditer(text):
            value = _resolve_en(match, today)
            if value is not None:
                yield match.start(), match.end(), value


def _resolve_zh(match: re.Match[str], today: datetime.date) -> _Value | None:
    kind, group = match.lastgroup, match.group
    if kind == "year":
        year = today.year + _YEAR_WORDS[group("yw")] if group("yw") else parse_number(group("y"))
        if year is None:
            return None
        if group("ym") is None:
            return _year_range(year)
        return _month_day(year, parse_number(group("ym")), group("yd"))
    if kind == "iso":
        return _date(int(group("iy")), int(group("im")), int(group("id")))
    if kind == "ago":
        count = 0.5 if group("an") == "半" else parse_number(group("an"))
        sign = -1 if group("ad").endswith("前") else 1
        unit = {"天": "day", "日": "day", "年": "year", "个月": "month"}.get(group("au"), "week")
        return _shift(today, count, unit, sign)
    if kind == "md":
        return _month_day(today.year, parse_number(group("mm")), group("md_d"))
    if kind == "day":
        day = parse_number(group("dn"))
        return None if day is None else _date(today.year, today.month, day)
    if kind == "rel_day":
        return today + datetime.timedelta(days=_REL_DAYS[group("rel_day")])
    if kind == "week":
        return _week_day(today, _OFFSETS[group("wo")], group("wd"))
    if kind == "weekday":
        return _week_day(today, 0, group("bwd"))
    if kind == "month":
        return _month_range(today, _OFFSETS[group("mo")])
    return None


def _resolve_en(match: re.Match[str], today: datetime.date) -> _Value | None:
    kind, group = match.lastgroup, match.group
    if kind == "e_rel_day":
        word = group("e_rel_day").lower()
        offset = -2 if "before" in word else 2 if "after" in word else 0
        offset = {"yesterday": -1, "tomorrow": 1}.get(word, offset)
        return today + datetime.timedelta(days=offset)
    if kind == "e_span":
        offset = {"last": -1, "this": 0, "next": 1}[group("e_so").lower()]
        unit = group("e_su").lower()
        if unit == "month":
            return _month_range(today, offset)
        if unit == "year":
            return _year_range(today.year + offset)
        week = _week_range(today, offset)
        if unit == "weekend":
            return DateRange(week.end - datetime.timedelta(days=1), week.end)
        return week
    if kind == "e_weekday":
        weekday = _EN_WEEKDAYS.index(group("e_wd").lower())
        modifier = (group("e_wo") or "").lower()
        if modifier == "last":  # the most recent one before today
            back = (today.weekday() - weekday) % 7 or 7
            return today - datetime.timedelta(days=back)
        monday = today - datetime.timedelta(days=today.weekday())
        weeks = 1 if modifier == "next" else 0
        return monday + datetime.timedelta(days=weekday + 7 * weeks)
    if kind == "e_md":
        year = int(group("e_my")) if group("e_my") else today.year
        return _date(year, _MONTHS[group("e_mon")[:3].lower()], int(group("e_mday")))
    if kind == "e_dm":
        year = int(group("e_dy")) if group("e_dy") else today.year
        return _date(year, _MONTHS[group("e_dmon")[:3].lower()], int(group("e_dday")))
    if kind in ("e_ago", "e_in"):
        prefix = "e_an" if kind == "e_ago" else "e_in_n"
        raw_count = " ".join(group(prefix).lower().split())
        count = _COUNTS[raw_count] if raw_count in _COUNTS else int(raw_count)
        unit = group("e_au" if kind == "e_ago" else "e_in_u").lower().rstrip("s")
        sign = -1 if kind == "e_ago" and group("e_ad").lower() == "ago" else 1
        return _shift(today, count, unit, sign)
    return None


def _date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _month_day(year: int, month: int | None, day_numeral: str | None) -> _Value | None:
    if month is None or not 1 <= month <= 12:
        return None
    if day_numeral is None:
        return DateRange(
            datetime.date(year, month, 1),
            datetime.date(year, month, calendar.monthrange(year, month)[1]),
        )
    day = parse_number(day_numeral)
    return None if day is None else _date(year, month, day)


def _year_range(year: int) -> DateRange | None:
    if not datetime.MINYEAR <= year <= datetime.MAXYEAR:
        return None
    return DateRange(datetime.date(year, 1, 1), datetime.date(year, 12, 31))


def _week_range(today: datetime.date, offset: int) -> DateRange:
    monday = today - datetime.timedelta(days=today.weekday()) + datetime.timedelta(weeks=offset)
    return DateRange(monday, monday + datetime.timedelta(days=6))


def _week_day(today: datetime.date, offset: int, weekday: str | None) -> _Value:
    week = _week_range(today, offset)
    if weekday is None:
        return week
    if weekday == "末":
        return DateRange(week.end - datetime.timedelta(days=1), week.end)
    index = int(weekday) - 1 if weekday.isdigit() else _ZH_WEEKDAYS[weekday]
    return week.start + datetime.timedelta(days=index)


def _month_range(today: datetime.date, offset: int) -> DateRange:
    index = today.year * 12 + today.month - 1 + offset
    year, month = divmod(index, 12)
    month += 1
    return DateRange(
        datetime.date(year, month, 1),
        datetime.date(year, month, calendar.monthrange(year, month)[1]),
    )


def _shift(today: datetime.date, count: float | None, unit: str, sign: int) -> _Value | None:
    """``today`` moved ``count`` units back (sign -1) or forward; months clamp the day."""
    if count is None:
        return None
    try:
        if unit == "day":
            return today + datetime.timedelta(days=sign * count)
        if unit == "week":
            return today + datetime.timedelta(days=sign * 7 * count)
        months = round(sign * count * (12 if unit == "year" else 1))
        if count == 0.5 and unit == "month":
            return today + datetime.timedelta(days=sign * 15)
        index = today.year * 12 + today.month - 1 + months
        year, month = divmod(index, 12)
        day = min(today.day, calendar.monthrange(year, month + 1)[1])
        return datetime.date(year, month + 1, day)
    except (OverflowError, ValueError):
        return None
