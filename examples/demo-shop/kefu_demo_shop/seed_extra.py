"""Chinese-facing data τ²-bench lacks: mobile numbers and monthly bills of 小铺流量卡.

Everything here is a pure function of the user id (and, for bills, how many months ago),
drawn from ``random.Random`` seeded with a string, so every load and every process sees the
same phones and the same bills. Bills cover the six complete months before today's month,
so 上个月 always has a bill; a month's values depend only on the user and that month. The
demo customers' stories are pinned to "n months ago" instead, so that the bill that doubled
is always last month's.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from kefu_demo_shop.errors import ShopError

__all__ = [
    "BILL_MONTHS",
    "BILL_SHOCK_USER",
    "DEMO_PHONES",
    "OVERAGE_RATE",
    "PLANS",
    "DataPlan",
    "assign_phones",
    "bill_for",
    "months_ago_for",
    "recent_bills",
]

BILL_MONTHS = 6
OVERAGE_RATE = 3.0  # 元/GB beyond the plan's allowance
CURRENCY = "CNY"

# The documented demo customers (docs/demo-shop.md) get numbers that are easy to type.
BILL_SHOCK_USER = "mei_martin_4260"
DEMO_PHONES = {
    "mei_martin_4260": "13800001234",
    "liam_li_8526": "13900005678",
    "yusuf_rossi_9620": "18600002378",
}

_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "166 177 180 181 182 183 185 186 187 188 189 199"
).split()


@dataclass(frozen=True)
class DataPlan:
    """One tariff of the shop's mobile data plan 小铺流量卡."""

    code: str
    name: str
    name_en: str
    monthly_fee: float
    allowance_gb: float


PLANS = (
    DataPlan("lite", "小铺流量卡·轻享 10G", "XiaoPu Data Card Lite 10 GB", 19.0, 10.0),
    DataPlan("plus", "小铺流量卡·畅享 20G", "XiaoPu Data Card Plus 20 GB", 29.0, 20.0),
    DataPlan("max", "小铺流量卡·尊享 40G", "XiaoPu Data Card Max 40 GB", 49.0, 40.0),
)
_PLAN_WEIGHTS = (3, 5, 2)

# The bill-shock story: normal months on 畅享 20G, then 29.8 GB used last month, so
# 9.8 GB overage x 3 元 = 29.40 元 on top of the 29 元 fee: the bill doubles to 58.40 元.
_PINNED_USAGE: dict[str, tuple[DataPlan, dict[int, float]]] = {
    BILL_SHOCK_USER: (PLANS[1], {1: 29.8, 2: 16.2, 3: 14.7, 4: 18.9, 5: 15.3, 6: 17.6}),
}


def assign_phones(user_ids: Iterable[str]) -> dict[str, str]:
    """A unique mainland mobile number for every user, the same on every load."""
    phones = {uid: DEMO_PHONES[uid] for uid in user_ids if uid in DEMO_PHONES}
    taken = set(DEMO_PHONES.values())
    for uid in sorted(user_ids):
        if uid in phones:
            continue
        rng = random.Random(f"phone:{uid}")
        while True:
            phone = rng.choice(_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if phone not in taken:
                break
        taken.add(phone)
        phones[uid] = phone
    return phones


def _plan_for(user_id: str) -> DataPlan:
    if user_id in _PINNED_USAGE:
        return _PINNED_USAGE[user_id][0]
    return random.Random(f"plan:{user_id}").choices(PLANS, weights=_PLAN_WEIGHTS)[0]


def _usage_gb(user_id: str, months_ago: int, month: str, plan: DataPlan) -> float:
    if user_id in _PINNED_USAGE:
        return _PINNED_USAGE[user_id][1][months_ago]
    rng = random.Random(f"usage:{user_id}:{month}")
    if rng.random() < 0.08:  # now and then a little over the allowance
        return round(plan.allowance_gb + rng.uniform(0.3, 3.0), 1)
    return round(plan.allowance_gb * rng.uniform(0.3, 0.95), 1)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def bill_for(user_id: str, months_ago: int, today: date) -> dict[str, Any]:
    """The 小铺流量卡 bill of ``months_ago`` complete months before today's month."""
    plan = _plan_for(user_id)
    month = _month_index(today) - months_ago
    used = _usage_gb(user_id, months_ago, _month_label(month), plan)
    overage = round(max(0.0, used - plan.allowance_gb), 1)
    overage_fee = round(overage * OVERAGE_RATE, 2)
    return {
        "month": _month_label(month),
        "issued_on": f"{_month_label(month + 1)}-01",
        "status": "unpaid" if months_ago == 1 else "paid",
        "plan_code": plan.code,
        "plan_name": plan.name,
        "plan_name_en": plan.name_en,
        "monthly_fee": plan.monthly_fee,
        "data_allowance_gb": plan.allowance_gb,
        "data_used_gb": used,
        "overage_gb": overage,
        "overage_rate": OVERAGE_RATE,
        "overage_fee": overage_fee,
        "total": round(plan.monthly_fee + overage_fee, 2),
        "currency": CURRENCY,
    }


def recent_bills(user_id: str, today: date) -> list[dict[str, Any]]:
    """The last ``BILL_MONTHS`` bills, newest (上个月) first."""
    return [bill_for(user_id, n, today) for n in range(1, BILL_MONTHS + 1)]


def months_ago_for(month: str, today: date) -> int:
    """How many months before today's month ``YYYY-MM`` is; 400/404 when it has no bill."""
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", month.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise ShopError(400, "invalid_param", f"month: expected YYYY-MM, got {month!r}")
    months_ago = _month_index(today) - (int(match[1]) * 12 + int(match[2]) - 1)
    if not 1 <= months_ago <= BILL_MONTHS:
        newest = _month_label(_month_index(today) - 1)
        oldest = _month_label(_month_index(today) - BILL_MONTHS)
        raise ShopError(
            404,
            "bill_not_found",
            f"No bill for {month}: bills exist for {oldest} to {newest} "
            "(the current month is billed after it ends).",
        )
    return months_ago
