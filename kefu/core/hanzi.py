"""Folding Chinese text to one written form: traditional → simplified, common typos fixed.

The traditional → simplified table comes from OpenCC (``pip install opencc``, the maintained
converter, Apache-2.0): every CJK code point is converted once, character by character, the
first time a table is needed (~100 ms), and the 4,576 pairs that change are kept as a
``str.translate`` table. Folding a question then costs ~0.6 µs, where OpenCC's own
``convert`` costs ~5.5 µs (measured in docs/evaluation.md), and every character keeps its
position, so a sensitive-word hit maps straight back to the original text. Without OpenCC
the 1,004 most frequent pairs (``_hanzi_fallback``) are used.

Typos customers make all the time fold too: 劵 (not a word on its own) → 券 in the table,
and a few words (优惠卷 → 优惠券, 登陆 → 登录) in :func:`fold_chinese`.
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["fold_chinese", "simplified_table", "to_simplified"]

logger = logging.getLogger(__name__)

# Every code point OpenCC might convert: CJK unified ideographs, extension A, the
# compatibility block, and extensions B-F.
_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2EBEF))
# One character for one character, so folding keeps positions.
_CHARACTER_TYPOS = {"劵": "券"}
# Whole-word typos: the wrong character is a real character elsewhere (卷 a roll, 陆 land),
# so only the word is folded.
_WORD_TYPOS = {
    "优惠卷": "优惠券",
    "代金卷": "代金券",
    "抵用卷": "抵用券",
    "购物卷": "购物券",
    "登陆": "登录",
    "帐号": "账号",
    "帐户": "账户",
}
_WORD_TYPO = re.compile("|".join(map(re.escape, _WORD_TYPOS)))

_table: dict[int, str] | None = None
_lock = threading.Lock()


def simplified_table() -> dict[int, str]:
    """The ``str.translate`` table: traditional → simplified, character typos fixed."""
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                _table = _build_table()
    return _table


def _build_table() -> dict[int, str]:
    try:
        import opencc
    except ImportError:
        from kefu.core._hanzi_fallback import TRADITIONAL_TO_SIMPLIFIED

        logger.info("opencc is not installed: folding the 1,004 most frequent traditional forms")
        table = {code: chr(simple) for code, simple in TRADITIONAL_TO_SIMPLIFIED.items()}
    else:
        characters = [chr(code) for low, high in _RANGES for code in range(low, high + 1)]
        converted = opencc.OpenCC("t2s").convert("\n".join(characters)).split("\n")
        if len(converted) != len(characters):  # a newline changed: never seen, be safe
            converted = [opencc.OpenCC("t2s").convert(char) for char in characters]
        table = {
            ord(char): simple
            for char, simple in zip(characters, converted, strict=True)
            if simple != char and len(simple) == 1
        }
    table.update({ord(wrong): right for wrong, right in _CHARACTER_TYPOS.items()})
    return table


def to_simplified(text: str) -> str:
    """``text`` with traditional characters (and 劵) replaced, one for one: same length."""
    return text.translate(simplified_table())


def fold_chinese(text: str) -> str:
    """:func:`to_simplified`, then common word typos fixed (优惠卷 → 优惠券, 登陆 → 登录)."""
    simplified = text.translate(simplified_table())
    return _WORD_TYPO.sub(lambda match: _WORD_TYPOS[match.group()], simplified)
