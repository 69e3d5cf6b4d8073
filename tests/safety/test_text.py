"""Text checks shared by the services' validation (kefu/safety/text.py)."""

from __future__ import annotations

import sys
import unicodedata

from kefu.safety import has_control_chars


def test_control_characters_are_exactly_unicodes_category_cc() -> None:
    wrong = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if has_control_chars(chr(code)) != (unicodedata.category(chr(code)) == "Cc")
    ]
    assert wrong == []
    assert has_control_chars("user\x00id") and not has_control_chars("用户 id\u200b")
