"""Text helpers shared by the extractors: width folding and Chinese numerals."""

from __future__ import annotations

__all__ = ["ZH_DIGITS", "ZH_NUMERAL", "fold_width", "parse_number"]

# Full-width ASCII (Ｗ２３７８１５６, ＄, ＃) folds to half-width one character for one, so
# offsets into the folded text are offsets into the message. The full-width comma stays: in
# "订单1，金额299元" it separates clauses, it is no thousands separator.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F) if code != 0xFF0C}
_HALF_WIDTH[0x3000] = 0x20  # ideographic space


def fold_width(text: str) -> str:
    """``text`` with full-width ASCII folded to half-width; the length does not change."""
    return text.translate(_HALF_WIDTH)


ZH_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_UNITS = {"十": 10, "百": 100, "千": 1000}
_GROUPS = {"万": 10_000, "亿": 100_000_000}
ZH_NUMERAL = "[零〇一二两三四五六七八九十百千万亿]"  # one character of a Chinese numeral


def parse_number(numeral: str) -> int | None:
    """The integer a Chinese or Arabic numeral stands for, or None if it is not one.

    Handles unit numerals (十五, 一百零五, 两千, 一万二千), colloquial tails (一百五 → 150,
    两千五 → 2500, 一万五 → 15000) and digit-by-digit years (二〇二四 → 2024).
    """
    if numeral.isascii():
        return int(numeral) if numeral.isdigit() else None
    if all(ch in ZH_DIGITS for ch in numeral):
        value = 0
        for ch in numeral:
            value = value * 10 + ZH_DIGITS[ch]
        return value
    total = section = 0
    digit: int | None = None
    tail = 1  # what a bare digit right after a unit is worth: 百 → 10 (一百五 = 150)
    for ch in numeral:
        if ch in ZH_DIGITS:
            if digit is not None:
                return None  # two digits in a row inside a unit numeral: 三五百
            digit = ZH_DIGITS[ch] or None
            if not ZH_DIGITS[ch]:
                tail = 1  # 一百零五: after a zero the digit is units
            continue
        unit = _UNITS.get(ch)
        if unit is not None:
            section += (1 if digit is None else digit) * unit
            digit, tail = None, unit // 10
            continue
        group = _GROUPS.get(ch)
        if group is None:
            return None
        total += (section + (digit or 0)) * group
        section, digit, tail = 0, None, group // 10
    return total + section + (digit or 0) * tail
