"""Membership levels and their history, following apps/demo-shop/docs/membership.*.md.

Levels come from growth points earned in a calendar year (普通 0, 银卡 1,000, 金卡 5,000,
钻石 20,000). Reaching a threshold upgrades at once; the only downgrades happen at the
annual review on January 1, from the previous year's growth points; reaching the former
threshold again during the year restores the level at once. Each user's yearly growth is
drawn from a string-seeded RNG, so the history is the same on every load; the years are
counted back from today, so the story always ends at the current year.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

__all__ = ["DOWNGRADED_USER", "LEVELS", "Level", "level_for", "membership_for"]

DOWNGRADED_USER = "liam_li_8526"
HISTORY_YEARS = 3  # members joined within the three years before the current one


@dataclass(frozen=True)
class Level:
    """One membership level and the yearly growth points it needs."""

    code: str
    name: str
    name_en: str
    threshold: int


LEVELS = (
    Level("regular", "普通会员", "Regular", 0),
    Level("silver", "银卡会员", "Silver", 1_000),
    Level("gold", "金卡会员", "Gold", 5_000),
    Level("diamond", "钻石会员", "Diamond", 20_000),
)


@dataclass(frozen=True)
class _Story:
    joined: date
    earned: dict[int, int]  # growth points of each completed year
    this_year: int  # growth points earned so far this year


def level_for(growth_points: int) -> int:
    """Index in ``LEVELS`` of the highest level ``growth_points`` reaches."""
    return max(i for i, level in enumerate(LEVELS) if growth_points >= level.threshold)


def _story(user_id: str, today: date) -> _Story:
    first_year = today.year - HISTORY_YEARS
    if user_id == DOWNGRADED_USER:
        # Gold since 2 years ago, only 3,200 points last year → Silver on January 1 (the
        # example in the membership doc), 1,860 points so far this year.
        earned = dict(zip(range(first_year, today.year), (1_850, 6_400, 3_200), strict=True))
        return _Story(date(first_year, 3, 15), earned, 1_860)
    rng = random.Random(f"growth:{user_id}")
    joined = date(first_year, 1, 1) + timedelta(days=rng.randrange(300))
    typical = math.exp(rng.uniform(math.log(200), math.log(24_000)))
    earned = {
        year: 10 * round(typical * rng.uniform(0.6, 1.4) / 10)
        for year in range(first_year, today.year)
    }
    rate_this_year = typical * rng.uniform(0.6, 1.4)
    elapsed = ((today - date(today.year, 1, 1)).days + 1) / 365
    return _Story(joined, earned, int(rate_this_year * elapsed))


def _event(
    when: date,
    change: str,
    old: int | None,
    new: int,
    points: int,
    threshold: int,
    why: tuple[str, str],
) -> dict[str, Any]:
    return {
        "date": when.isoformat(),
        "change": change,
        "from_level": LEVELS[old].code if old is not None else None,
        "from_level_name": LEVELS[old].name if old is not None else None,
        "to_level": LEVELS[new].code,
        "to_level_name": LEVELS[new].name,
        "growth_points": points,
        "threshold": threshold,
        "reason": why[0],
        "reason_en": why[1],
    }


def _history(story: _Story, today: date) -> tuple[list[dict[str, Any]], int, int | None]:
    """Events oldest first, the current level, and the level lost this year (if any)."""
    events = [
        _event(
            story.joined, "join", None, 0, 0, 0, ("注册成为普通会员", "Joined as a Regular member")
        )
    ]
    level, lost = 0, None
    for year in range(story.joined.year, today.year + 1):
        start = max(date(year, 1, 1), story.joined)
        current = year == today.year
        earned = story.this_year if current else story.earned[year]
        end = today if current else date(year, 12, 31)
        days = (end - start).days + 1
        for new in range(level + 1, len(LEVELS)):
            target = LEVELS[new]
            if earned < target.threshold:
                break
            when = start + timedelta(days=min(days - 1, days * target.threshold // earned))
            points = f"{target.threshold:,}"
            if current and lost is not None and new <= lost:
                change = "restore"
                why = (
                    f"{year} 年成长值重新达到{target.name}门槛 {points}，立即恢复{target.name}",
                    f"Growth points earned in {year} reached the {target.name_en} threshold "
                    f"of {points} again; {target.name_en} restored",
                )
            else:
                change = "upgrade"
                why = (
                    f"{year} 年累计成长值达到 {points}，升级为{target.name}",
                    f"Growth points earned in {year} reached {points}; upgraded to "
                    f"{target.name_en}",
                )
            events.append(_event(when, change, level, new, target.threshold, target.threshold, why))
            level = new
        if current:
            break
        reviewed = level_for(earned)
        if reviewed < level:
            old = LEVELS[level]
            why = (
                f"年度评定：{year} 年累计成长值 {earned:,}，未达到{old.name}门槛 "
                f"{old.threshold:,}，降为{LEVELS[reviewed].name}",
                f"Annual review: {earned:,} growth points earned in {year}, below the "
                f"{old.name_en} threshold of {old.threshold:,}; moved down to "
                f"{LEVELS[reviewed].name_en}",
            )
            review_day = date(year + 1, 1, 1)
            events.append(
                _event(review_day, "downgrade", level, reviewed, earned, old.threshold, why)
            )
            lost = level if year + 1 == today.year else None
            level = reviewed
    return events, level, lost


def membership_for(user_id: str, today: date) -> dict[str, Any]:
    """Current level, this year's growth points, what the next level needs, and history."""
    story = _story(user_id, today)
    events, level, lost = _history(story, today)
    current = LEVELS[level]
    result: dict[str, Any] = {
        "user_id": user_id,
        "level": current.code,
        "level_name": current.name,
        "level_name_en": current.name_en,
        "year": today.year,
        "growth_points_this_year": story.this_year,
        "next_review": date(today.year + 1, 1, 1).isoformat(),
        "next_level": None,
        "restorable_level": None,
        "history": events[::-1],
    }
    if level + 1 < len(LEVELS):
        up = LEVELS[level + 1]
        result["next_level"] = {
            "level": up.code,
            "level_name": up.name,
            "threshold": up.threshold,
            "points_needed": up.threshold - story.this_year,
        }
    if lost is not None and lost > level:
        former = LEVELS[lost]
        result["restorable_level"] = {
            "level": former.code,
            "level_name": former.name,
            "threshold": former.threshold,
            "points_needed": former.threshold - story.this_year,
        }
    return result
