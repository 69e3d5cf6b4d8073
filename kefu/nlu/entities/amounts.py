"""Sums of money: a number with a currency written before (¥199, USD 25, HK$50) or after it
(199元, 两千块, 25 dollars, 50港币).

Only a number tied to a currency is an amount: a bare number, a percentage or "64GB" is not,
and neither is a number inside a code (W2378156元) or a longer run of digits. ¥ is read as
CNY (the platform's home market); "dollars" and "$" as USD; "pounds" is left out (it is a
weight as often as a currency), £ and 英镑 are GBP. Chinese numerals count (一百九十九元, 两千块)
except a bare 三块 / 两块, which is as often "three pieces" as three yuan: with a Chinese
numeral, 块 needs 钱 or a unit (两千块, 三块钱). 三块五 is 3.5 and 五毛 is 0.5.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from kefu.nlu.entities._text import ZH_DIGITS, ZH_NUMERAL, parse_number
from kefu.nlu.entities._types import Money

__all__ = ["find_amounts"]

_PREFIXES = {
    "hk$": "HKD", "hkd": "HKD", "港币": "HKD",
    "us$": "USD", "usd": "USD", "$": "USD", "美元": "USD",
    "nt$": "TWD", "twd": "TWD",
    "¥": "CNY", "￥": "CNY", "rmb": "CNY", "cny": "CNY", "人民币": "CNY",
    "€": "EUR", "eur": "EUR", "£": "GBP", "gbp": "GBP", "jpy": "JPY",
}  # fmt: skip
_SUFFIXES = {
    "元": "CNY", "元钱": "CNY", "圆": "CNY", "块": "CNY", "块钱": "CNY", "毛": "CNY",
    "毛钱": "CNY", "角": "CNY", "角钱": "CNY", "人民币": "CNY", "rmb": "CNY", "cny": "CNY",
    "yuan": "CNY",
    "美元": "USD", "美金": "USD", "刀": "USD", "dollar": "USD", "dollars": "USD",
    "buck": "USD", "bucks": "USD", "usd": "USD",
    "港币": "HKD", "港元": "HKD", "港纸": "HKD", "hkd": "HKD",
    "欧元": "EUR", "euro": "EUR", "euros": "EUR", "eur": "EUR",
    "英镑": "GBP", "gbp": "GBP",
    "日元": "JPY", "日币": "JPY", "円": "JPY", "yen": "JPY", "jpy": "JPY",
    "台币": "TWD", "新台币": "TWD", "twd": "TWD", "韩元": "KRW", "krw": "KRW",
}  # fmt: skip


def _alternation(words: dict[str, str]) -> str:
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


_ARABIC = r"(?<![0-9A-Za-z.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![0-9%])"
_NUMBER = rf"(?:{_ARABIC}[百千万]?|(?<!{ZH_NUMERAL}){ZH_NUMERAL}+)"
_AMOUNT = re.compile(
    rf"(?:(?<![A-Za-z])(?P<pre>{_alternation(_PREFIXES)})\s?(?P<pn>{_ARABIC}[百千万]?)"
    rf"|(?P<sn>{_NUMBER})\s?(?P<suf>{_alternation(_SUFFIXES)})"
    rf"(?:(?<=块)(?P<jiao>[1-9一二三四五六七八九])(?:毛|角)?)?)"
    r"(?:(?<=[A-Za-z])(?![A-Za-z])|(?<![A-Za-z]))",  # a Latin currency word stands alone
    re.IGNORECASE,
)
_TRIGGER = re.compile(
    r"[$¥￥€£元块圆毛角币金刀镑円]|(?:rmb|cny|usd|hkd|eur|gbp|jpy|twd|krw|dollar|buck|yuan|yen)",
    re.IGNORECASE,
)
# With a Chinese numeral these words are as often not money: 三块 (three pieces), 三角
# (a triangle), 一刀 (one cut); 两千块 and 三块钱 are money.
_AMBIGUOUS_AFTER_CHINESE = frozenset({"块", "角", "毛", "刀"})
_UNITS = {"百": 100, "千": 1000, "万": 10_000}


def find_amounts(text: str) -> Iterator[tuple[int, int, Money]]:
    """``(start, end, Money)`` for each amount in ``text`` (already width-folded)."""
    if not _TRIGGER.search(text):
        return
    for match in _AMOUNT.finditer(text):
        money = _money(match)
        if money is not None:
            yield match.start(), match.end(), money


def _money(match: re.Match[str]) -> Money | None:
    if match.group("pre") is not None:
        token, numeral = match.group("pre"), match.group("pn")
        currency = _PREFIXES[token.lower()]
    else:
        token, numeral = match.group("suf"), match.group("sn")
        currency = _SUFFIXES[token.lower()]
        if not numeral[0].isdigit():
            if numeral[0] not in ZH_DIGITS and numeral[0] != "十":
                return None  # 万元户, 千元机: a unit alone is no number
            ambiguous = token in _AMBIGUOUS_AFTER_CHINESE and match.group("jiao") is None
            if ambiguous and not any(unit in numeral for unit in "十百千万亿"):
                return None
    amount = _number(numeral)
    if amount is None:
        return None
    if token in ("毛", "毛钱", "角", "角钱"):
        amount /= 10
    jiao = match.group("jiao")
    if jiao is not None:
        amount += Decimal(int(jiao) if jiao.isdigit() else ZH_DIGITS[jiao]) / 10
    return Money(amount, currency)


def _number(numeral: str) -> Decimal | None:
    unit = _UNITS.get(numeral[-1], 1) if numeral[0].isdigit() else 1
    digits = numeral[:-1] if unit != 1 else numeral
    if digits[0].isdigit():
        try:
            return Decimal(digits.replace(",", "")) * unit
        except InvalidOperation:
            return None
    value = parse_number(digits)
    return None if value is None else Decimal(value)
