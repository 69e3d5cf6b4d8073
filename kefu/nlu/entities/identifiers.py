"""Order ids, mainland mobile numbers, e-mail addresses and postcodes.

Order ids follow the app's own patterns (the demo shop's ``#?W\\d{7}``). With none configured,
two defaults apply: letters-then-digits codes (``#?[A-Z]{1,3}\\d{6,12}``, any case) anywhere,
and any 6–32 character code with a digit right after a cue such as 订单号 / 单号 / order
number (so an 18-digit marketplace number is an order id, not a phone or an amount).

An order id's value is how the shop writes it: upper case where the pattern allows it, and
with a leading ``#`` exactly when the pattern itself starts with one (``#?W\\d{7}`` → ``#W2378156``
whether the customer wrote ``w2378156`` or ``#W2378156``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kefu.core.errors import ConfigError

__all__ = ["DEFAULT_ORDER_ID_PATTERN", "OrderIdPattern", "compile_order_ids", "find_contacts"]

DEFAULT_ORDER_ID_PATTERN = r"(?!(?:qq|wx|vx)\d)[A-Z]{1,3}\d{6,12}"  # not a QQ / WeChat id
_ORDER_CUE = re.compile(
    r"(?:订单编?号?|单号|(?<![A-Za-z])order\s*(?:id|number|no\.?|num|#)?)\s*(?:号码)?\s*"
    r"(?:是|为|is|:)?\s*"
    r"(?P<id>#?(?=[A-Za-z0-9-]{0,31}\d)[A-Za-z0-9][A-Za-z0-9-]{5,31})(?![A-Za-z0-9-])",
    re.IGNORECASE | re.ASCII,
)
# Mainland mobile: 138 1234 5678, 138-1234-5678, +86 13812345678; never part of a longer
# run of digits (a bank card) or of a code (W13812345678).
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[ -]?)?(?P<number>1[3-9]\d(?:[ -]?\d{4}){2})"
    r"(?![0-9A-Za-z])",
    re.ASCII,
)
# Starting only where a run of address characters starts, with a bounded local part and
# possessive labels, keeps hostile input ("aaaa…@a.a.a…") linear.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-])",
    re.ASCII,
)
_ZIP = re.compile(
    r"(?:邮编|邮政编码|zip(?:\s*code)?|post\s*code|postal\s+code)\s*(?:是|为|:)?\s*"
    r"(?P<zip>\d{6}|\d{5}(?:-\d{4})?)(?![0-9])",
    re.IGNORECASE | re.ASCII,
)


@dataclass(frozen=True, slots=True)
class OrderIdPattern:
    """One compiled order-id pattern and how its matches are normalised."""

    source: str
    finder: re.Pattern[str]  # case-insensitive, bounded by non-alphanumerics
    exact: re.Pattern[str]  # the pattern as written, to test a normalised form
    hash_prefix: bool  # the shop writes its ids with a leading '#'

    def normalise(self, surface: str) -> str:
        core = surface.lstrip("#")
        prefix = "#" if self.hash_prefix else ""
        upper = core.upper()
        if self.exact.fullmatch(upper) or self.exact.fullmatch(prefix + upper):
            core = upper
        return prefix + core


def compile_order_ids(patterns: Sequence[str]) -> tuple[OrderIdPattern, ...]:
    """Compile the app's order-id regexes once; a bad one is a :class:`ConfigError` naming it."""
    compiled = []
    for source in patterns or (DEFAULT_ORDER_ID_PATTERN,):
        try:
            exact = re.compile(source)  # first, so an error's position is in the app's pattern
            finder = re.compile(rf"(?<![A-Za-z0-9#])#?(?:{source})(?![A-Za-z0-9])", re.IGNORECASE)
        except re.error as exc:
            raise ConfigError(
                f"invalid regular expression '{source}': {exc}", key="order_id_patterns"
            ) from exc
        hash_prefix = source.startswith(("#", "\\#"))
        compiled.append(OrderIdPattern(source, finder, exact, hash_prefix))
    return tuple(compiled)


def find_order_ids(
    text: str, patterns: Sequence[OrderIdPattern], *, use_cues: bool
) -> Iterator[tuple[int, int, str]]:
    """``(start, end, normalised id)`` for each order id; cue matches only when ``use_cues``."""
    for pattern in patterns:
        for match in pattern.finder.finditer(text):
            if match.end() > match.start() + 1:
                yield match.start(), match.end(), pattern.normalise(match.group())
    if use_cues:
        for match in _ORDER_CUE.finditer(text):
            start, end = match.span("id")
            yield start, end, match.group("id").lstrip("#").upper()


def find_contacts(text: str, has_digit: bool) -> Iterator[tuple[str, int, int, str]]:
    """``(type, start, end, value)`` for phones, e-mails and postcodes."""
    if "@" in text:
        for match in _EMAIL.finditer(text):
            yield "email", match.start(), match.end(), match.group().lower()
    if has_digit:
        for match in _PHONE.finditer(text):
            number = match.group("number").replace(" ", "").replace("-", "")
            yield "phone", match.start(), match.end(), number
        for match in _ZIP.finditer(text):
            yield "zip", *match.span("zip"), match.group("zip")
