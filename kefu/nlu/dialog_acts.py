"""Dialog acts every flow understands: yes, no, cancel, and asking for a human.

They are closed sets of short phrases in Chinese and English, so a phrase table beats a
trained model: it never guesses, and "是的" means yes in every app. A message counts as an
act only when the phrase is (almost) all it says — "不用了，谢谢" cancels, "不用寄发票但要
查订单" does not.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from kefu.core.regex_prefilter import LiteralPrefilter

__all__ = ["DialogAct", "detect_act", "is_correction", "picked_option", "wants_human"]

DialogAct = Literal["affirm", "deny", "cancel"]

_AFFIRM = {
    "是", "是的", "对", "对的", "好", "好的", "好啊", "嗯", "嗯嗯", "行", "可以", "确认", "确定",
    "没问题", "同意", "要", "需要", "对的没错", "没错", "确认取消", "确认退货", "麻烦了",
    "yes", "y", "yeah", "yep", "yes please", "ok", "okay", "sure", "confirm", "confirmed",
    "go ahead", "please do", "do it", "correct", "right", "that's right", "absolutely",
}  # fmt: skip
_DENY = {
    "不", "不是", "不对", "否", "不要", "不行", "不可以", "不确认", "错了", "暂时不要", "先不要",
    "不是这个", "不是这个问题", "不是这样", "不是这个意思", "我不是问这个", "问的不是这个",
    "no", "n", "nope", "nah", "don't", "do not", "no thanks", "no thank you", "wrong",
    "not that", "that's not it", "that's not what i asked", "not what i asked", "wrong question",
}  # fmt: skip
_CANCEL = {
    "取消", "算了", "不用了", "不需要了", "不查了", "不要了", "没事了", "先这样", "退出",
    "不用", "不需要", "算了吧", "没事", "不办了",
    "cancel", "never mind", "nevermind", "forget it", "stop", "quit", "nothing", "no need",
    "forget about it", "not needed", "no longer needed",
}  # fmt: skip
# "不是，我问的是退货运费", "No, I meant return shipping": the customer says the bot took
# them wrong and what they meant. A denial alone needs a separator after it, so that
# "不是很清楚怎么退货" is not one.
_CORRECTION = re.compile(
    r"^\s*(?:"
    r"(?:不是|不对|不是的|错了|算了|不用了)\s*[，,。.!！;；]\s*(?:我)?(?:问的是|是问|想问|说的是|的意思是)?"
    r"|我(?:问的是|是问|是想问|想问的是|说的是|的意思是)"
    r"|(?:no|nope|not that|never mind|nevermind|forget it|sorry)\s*[,.;!]\s*"
    r"(?:i\s+(?:meant|mean|asked|was asking|wanted to ask)(?:\s+about)?\s*)?"
    r"|i\s+(?:meant|was asking|asked)(?:\s+about)?\s+"
    r")\s*(?P<rest>\S.+)$",
    re.IGNORECASE,
)
_HUMAN = re.compile(
    r"转人工|找人工|接人工|要人工|人工服务|真人客服|"
    r"(?:我要|我想|给我|帮我|请|麻烦)(?:转|找|接|联系)?(?:一下|个|一个|位)?"
    r"(?:人工|客服人员|真人|活人)|"
    r"(?:找|叫|来)(?:个|一个|位)?(?:客服人员|真人|活人)|(?:和|跟|同)(?:真人|活人)(?:聊|说|谈)|"
    r"^\s*(?:人工|人工客服|客服)\s*[!！。.]*\s*$|"
    r"\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a\s+)?(?:human|person|real person|agent|someone)\b|"
    r"\b(?:human|live)\s+agent\b|\breal person\b|\bcustomer (?:service|support) "
    r"(?:rep|representative|staff|person|agent)|\brepresentative\b|\bnot a (?:bot|robot|machine)\b|"
    r"^\s*(?:an?\s+)?(?:agent|human|operator|representative)\s*(?:please|pls)?\s*[!.?]*\s*$",
    re.IGNORECASE,
)
# Most messages hold none of the words a request for a human needs: one pass rules the
# long pattern out (it is tried only when it could match).
_HUMAN_WORDS = LiteralPrefilter([_HUMAN])
# "不用转人工", "no need for a human", "don't transfer me to an agent": the words of a request,
# declined.
_DECLINED = re.compile(
    r"(?:不用|不要|不需要|无需|没必要|别)(?:帮我|给我)?(?:转|找|接)?(?:人工|客服人员|真人)|"
    r"\b(?:no need (?:for|to)|don't|do not|no)\b[^.?!,]{0,12}"
    r"\b(?:human|agent|person|representative|transfer)",
    re.IGNORECASE,
)
# "人工客服几点下班" asks about the agents; it is not a request for one.
_ABOUT_AGENTS = re.compile(r"几点|什么时候|多久|时间|上班|下班|电话|hours|what time|when\b", re.I)
_POLITE = re.compile(
    r"^(?:请|麻烦|帮我)|"
    r"(?:吧|吗|呢|啊|呀|哈|啦|谢谢|谢谢你|,?\s*thanks?(?: you)?|,?\s*please)$",
    re.IGNORECASE,
)
_PUNCTUATION = re.compile(r"[\s,.!?;:~，。！？；：～、…\"'“”‘’()（）]+")
_MAX_ACT_CHARS = 24


def _normalise(text: str) -> str:
    cleaned = _PUNCTUATION.sub(" ", text.lower()).strip()
    for _ in range(2):  # "好的吧谢谢": strip up to two polite particles
        cleaned = _POLITE.sub("", cleaned).strip()
    return cleaned


def detect_act(text: str) -> DialogAct | None:
    """``affirm``, ``deny`` or ``cancel`` when that is what the whole message says
    ("算了，不用了": every part a cancel or a denial, so a cancel)."""
    if len(text) > _MAX_ACT_CHARS:
        return None
    cleaned = _normalise(text)
    if not cleaned:
        return None
    for phrase in (cleaned, cleaned.replace(" ", "")):
        act = _act_of(phrase)
        if act is not None:
            return act
    parts = [_act_of(part) for part in cleaned.split()]
    if len(parts) > 1 and all(act in ("cancel", "deny") for act in parts):
        return "cancel" if "cancel" in parts else "deny"
    return None


def _act_of(phrase: str) -> DialogAct | None:
    if phrase in _CANCEL:
        return "cancel"
    if phrase in _AFFIRM:
        return "affirm"
    if phrase in _DENY:
        return "deny"
    return None


def is_correction(text: str) -> bool:
    """The customer says they were taken wrong and asks something else ("不是，我问的是
    退货运费", "No, I meant return shipping")."""
    match = _CORRECTION.match(text)
    return match is not None and len(match.group("rest").strip()) >= 2


def wants_human(text: str) -> bool:
    """The customer asks for a human agent (转人工, "talk to a human")."""
    if not _HUMAN_WORDS.may_match(text) or _HUMAN.search(text) is None:
        return False
    if _DECLINED.search(text):
        return False
    return not (_ABOUT_AGENTS.search(text) and not re.search(r"转人工|我要|我想|帮我", text))


# Which option of a numbered list: "1", "１号", "第二个", "选2", "the first one", "#2".
_ORDINALS = {
    "1": 0, "2": 1, "3": 2, "一": 0, "二": 1, "两": 1, "三": 2,
    "first": 0, "second": 1, "third": 2, "one": 0, "two": 1, "three": 2,
    "former": 0, "latter": 1, "前": 0, "后": 1, "上": 0, "下": 1,
}  # fmt: skip
_PICK = re.compile(
    r"^(?:(?:我)?(?:选|要|是|想问)?\s*(?:第|no\.?\s*|number\s*|option\s*|#)?\s*"
    r"(?P<n>[1-3一二两三]|first|second|third|one|two|three)\s*(?:个|条|项|号|种|吧|个吧)?"
    r"|(?:the\s+)?(?P<w>first|second|third|former|latter)(?:\s+one)?"
    r"|(?P<c>前|后|上|下)(?:一个|面那个|面的|者))$",
    re.IGNORECASE,
)


def picked_option(text: str, options: list[str]) -> int | None:
    """The index of the option a reply to a numbered question picks, or None: by number or
    ordinal (1, 第二个, "the first one"), or by repeating an option's words."""
    cleaned = _normalise(unicodedata.normalize("NFKC", text))
    match = _PICK.match(cleaned)
    if match is not None:
        word = (match.group("n") or match.group("w") or match.group("c") or "").lower()
        index = _ORDINALS.get(word)
        return index if index is not None and index < len(options) else None
    for index, option in enumerate(options):
        if cleaned and cleaned == _normalise(option):
            return index
    return None
