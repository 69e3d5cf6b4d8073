"""Personal data in customer text: mainland mobile numbers, resident ID numbers, bank cards
and e-mail addresses, found precisely enough that prices, dates and order ids are left alone.

Masks keep a recognisable shape (``138****5678``, ``6222 **** **** 0123``) so a trace or an
LLM prompt still reads naturally without carrying the data itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

__all__ = [
    "ALL_PII_KINDS",
    "PiiHit",
    "PiiKind",
    "find_pii",
    "id_card_valid",
    "luhn_valid",
    "mask_pii",
    "mask_value",
]

PiiKind = Literal["email", "id_card", "bank_card", "phone"]
ALL_PII_KINDS: frozenset[PiiKind] = frozenset(("email", "id_card", "bank_card", "phone"))

# Not glued to letters or digits: "W2378156" and longer digit runs are not candidates.
_ALONE_BEFORE, _ALONE_AFTER = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
_ID_CARD = re.compile(
    _ALONE_BEFORE + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
    r"[\dXx]" + _ALONE_AFTER
)
_BANK_CARD = re.compile(
    _ALONE_BEFORE + r"(?<!\d[ -])"  # not the tail of a longer group of digits
    r"(?:\d{13,19}"
    r"|\d{4}(?P<sep>[ -])\d{4}(?:(?P=sep)\d{4}){1,2}(?:(?P=sep)\d{1,4})?"  # 4-4-4-4(-3)
    r"|\d{4}[ -]\d{6}[ -]\d{5})"  # 4-6-5 (American Express)
     + _ALONE_AFTER + r"(?![ -]\d)"
)
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}" + _ALONE_AFTER
)
_DIGIT = re.compile(r"\d")  # every pattern but the e-mail one needs a digit (as \d reads it)
# Words that make a long number an order or a parcel rather than a card.
_NOT_A_CARD = re.compile(r"(订单|单号|运单|快递|物流|流水|order|tracking|invoice|#|no\.)", re.I)
_ID_REGIONS = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54"
    " 61 62 63 64 65 71 81 82 83 91".split()
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@dataclass(frozen=True, slots=True)
class PiiHit:
    """Personal data found in a text: ``text[start:end] == value``."""

    kind: PiiKind
    start: int
    end: int
    value: str


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def id_card_valid(number: str) -> bool:
    """An 18-character resident ID (GB 11643): known region, real past birth date, checksum."""
    if not re.fullmatch(r"\d{17}[\dXx]", number) or number[:2] not in _ID_REGIONS:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= born <= date.today():
        return False
    check = "10X98765432"[
        sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True)) % 11
    ]
    return number[17].upper() == check


def _is_card(text: str, match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group())
    return (
        13 <= len(digits) <= 19
        and digits[0] in "234569"  # Mastercard 2-series, Amex/JCB, Visa, Mastercard, UnionPay
        and len(set(digits)) > 1
        and luhn_valid(digits)
        and not _NOT_A_CARD.search(text, max(0, match.start() - 12), match.start())
    )


def find_pii(text: str, kinds: Iterable[PiiKind] = ALL_PII_KINDS) -> list[PiiHit]:
    """Personal data in ``text``, in order; where finds overlap, the more specific kind wins."""
    wanted = set(kinds)
    taken: list[PiiHit] = []
    checks: list[tuple[PiiKind, re.Pattern[str]]] = []
    # Each pattern runs only when what it cannot match without occurs: most messages hold
    # no '@' and many no digit.
    if "@" in text:
        checks.append(("email", _EMAIL))
    if _DIGIT.search(text):
        checks += [("id_card", _ID_CARD), ("bank_card", _BANK_CARD), ("phone", _PHONE)]
    for kind, pattern in checks:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < hit.end and hit.start < end for hit in taken):
                continue
            if kind == "id_card" and not id_card_valid(match.group()):
                continue
            if kind == "bank_card" and not _is_card(text, match):
                continue
            taken.append(PiiHit(kind, start, end, match.group()))
    return sorted((hit for hit in taken if hit.kind in wanted), key=lambda hit: hit.start)


def _mask_digits(value: str, keep_head: int, keep_tail: int) -> str:
    """Mask digits (and an ID's X) outside the first and last few; separators stay."""
    count = sum(c.isdigit() or c in "Xx" for c in value)
    out, seen = [], 0
    for char in value:
        if char.isdigit() or char in "Xx":
            seen += 1
            out.append(char if seen <= keep_head or seen > count - keep_tail else "*")
        else:
            out.append(char)
    return "".join(out)


def _mask(hit: PiiHit) -> str:
    if hit.kind == "email":
        local, _, domain = hit.value.partition("@")
        return f"{local[0]}***@{domain}"
    if hit.kind == "phone":  # 86 prefix and first three digits stay, then 4 masked, 4 kept
        digits = sum(c.isdigit() for c in hit.value)
        return _mask_digits(hit.value, digits - 8, 4)
    return _mask_digits(hit.value, 4, 4)


def mask_pii(text: str, kinds: Iterable[PiiKind] = ALL_PII_KINDS) -> str:
    """``text`` with personal data of ``kinds`` masked in place."""
    parts, done = [], 0
    for hit in find_pii(text, kinds):
        parts += [text[done : hit.start], _mask(hit)]
        done = hit.end
    return "".join(parts) + text[done:]


def mask_value(value: Any, kinds: Iterable[PiiKind] = ALL_PII_KINDS) -> Any:
    """``mask_pii`` applied to every string inside JSON-like data (dict keys are left as is)."""
    kinds = frozenset(kinds)
    if isinstance(value, str):
        return mask_pii(value, kinds)
    if isinstance(value, dict):
        return {key: mask_value(item, kinds) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_value(item, kinds) for item in value]
    if isinstance(value, tuple):
        return tuple(mask_value(item, kinds) for item in value)
    return value
