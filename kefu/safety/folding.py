"""Text folded so that disguises compare equal: what the injection and leak checks match on.

Attackers and leaking models hide words behind invisible characters (zero-width spaces,
soft hyphens, word joiners), full-width letters, look-alike letters from other scripts
(Cyrillic ``о`` for Latin ``o``), traditional characters and separators. Folding removes or
maps all of them; it never changes meaning for an ordinary customer message.
"""

from __future__ import annotations

import re
import unicodedata

from kefu.core.hanzi import to_simplified

__all__ = ["compact_form", "fold_text"]

# Invisible format characters, variation selectors and Hangul fillers (shown as nothing).
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)
# Cyrillic and Greek letters that look like Latin ones.
_HOMOGLYPHS = str.maketrans(
    "АВЕЅІЈКМНОРСТХУаеіјорсухѕԁԛԝɡΑΒΕΖΗΙΚΜΝΟΡΤΥΧοινρτυχ",
    "ABESIJKMHOPCTXYaeijopcyxsdqwgABEZHIKMNOPTYXoivptux",
)
_CACHE_LIMIT = 65_536  # distinct code points remembered; bounds memory under hostile input


def fold_text(text: str) -> str:
    """``text`` without invisible characters, in NFKC (half width), with look-alike letters
    made Latin and traditional characters simplified. Case and separators are kept."""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    return to_simplified(text.translate(_HOMOGLYPHS))


class _CompactForms(dict[int, str]):
    """``str.translate`` table: a code point's letters and digits, folded and lower case."""

    def __missing__(self, code: int) -> str:
        folded = fold_text(chr(code)).casefold()
        form = "".join(ch for ch in folded if ch.isalnum())
        if len(self) < _CACHE_LIMIT:
            self[code] = form
        return form


_COMPACT = _CompactForms()


def compact_form(text: str) -> str:
    """Only the letters and digits of ``text``, folded and lower case: "Y o u\u200bare-the" and
    "youarethe" compare equal. Each character folds on its own, so positions map back."""
    return text.translate(_COMPACT)
