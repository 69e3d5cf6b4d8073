"""Courtesy around a question: greetings before it, thanks and particles after it.

Customers wrap their questions — "你好，请问退货运费谁出呢？谢谢", "hi, how long does shipping
take? thanks" — and the wrapping carries no question. :func:`strip_courtesy` takes it off
both ends, so that a question that is one of the FAQ's own, word for word apart from the
courtesy, is recognised as such (``kefu.engine.retrieval.verbatim_faq``: its lexical answer
is certain and the encoder is not asked).

Only the ends are touched, and only whole courtesy phrases followed (at the start) or
preceded (at the end) by the rest of the message: "亲子装怎么退" keeps its 亲, "hiking
boots" its "hi", "谢谢你们的发票怎么开" its 谢谢 (courtesy in the middle of a sentence is
content). A message that is nothing but courtesy comes back unchanged.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["strip_courtesy"]

# Punctuation and spaces between the courtesy and the question (ASCII and full width, NFKC).
_GAP = r"[\s,、.。!！?？~～:：;；…]*"
_LEADING_ZH = (
    "客服你好", "客服您好", "你好客服", "您好客服", "你好", "您好", "在吗", "在么", "在不在",
    "请问一下", "请问下", "请问", "麻烦问一下", "麻烦问下", "麻烦问问", "问一下", "问下",
    "打扰一下", "打扰了", "亲亲", "哈喽", "嗨",
)  # fmt: skip
# A single character that also starts words (亲子, 喂养) counts only with a gap after it.
_LEADING_ZH_GAPPED = ("亲", "喂", "hello")
_LEADING_EN = (
    "hi there", "hello there", "hey there", "hi", "hello", "hey", "hiya", "good morning",
    "good afternoon", "good evening", "excuse me", "sorry", "quick question", "question",
    "dear support", "dear team", "please", "pls", "plz",
)  # fmt: skip
_TRAILING_ZH = (
    "谢谢你们", "谢谢你", "谢谢啦", "谢谢了", "谢谢", "多谢", "感谢", "急急急", "急", "在线等",
    "呢", "啊", "呀", "哈", "哦", "噢", "哇",
)  # fmt: skip
_TRAILING_EN = ("thank you", "thanks", "thx", "please", "pls", "plz", "asap")


def _alternatives(phrases: tuple[str, ...]) -> str:
    return "|".join(re.escape(phrase) for phrase in sorted(phrases, key=len, reverse=True))


_LEADING = re.compile(
    rf"^(?:(?:(?:{_alternatives(_LEADING_ZH)})|(?:{_alternatives(_LEADING_ZH_GAPPED)})(?=[\s,，、.。!！~～:：])"
    rf"|(?:{_alternatives(_LEADING_EN)})\b){_GAP})+"
)
_TRAILING = re.compile(
    rf"(?:{_GAP}(?:(?:{_alternatives(_TRAILING_ZH)})|\b(?:{_alternatives(_TRAILING_EN)})))+{_GAP}$"
)


def strip_courtesy(text: str) -> str:
    """``text`` (NFKC, lower case, trimmed) without the greetings that open it and the
    thanks and particles that close it; unchanged if nothing else would be left."""
    folded = unicodedata.normalize("NFKC", text).lower().strip()
    stripped = _TRAILING.sub("", _LEADING.sub("", folded, count=1), count=1)
    return stripped if any(ch.isalnum() for ch in stripped) else folded
