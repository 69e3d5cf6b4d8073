"""Messages a human should see at once: legal threats, safety incidents, fraud, complaints,
and a customer telling the bot it does not help.

Customer service escalates these whatever the bot could answer: a customer who threatens to
sue or to call 12315, who was hurt or whose product caught fire, whose account was stolen,
who files a complaint, or who says the bot keeps failing them ("你怎么什么都答不上来", "I've
tried five times, it never works": an implicit request for a human).

They are closed sets of phrases in Chinese and English (as in :mod:`kefu.nlu.dialog_acts`,
a phrase table never guesses); a phrase just after a negation ("我不是要投诉", "I'm not going
to sue") does not count, and asking *how* to complain ("投诉渠道在哪里", "how do I file a
complaint") is a question, not a complaint. Phrases are recall-limited by nature: on dialogs
written after these lists, 5 in 14 hand-overs were found (docs/evaluation.md).
The app's ``handoff.escalate`` switch (on by default) turns a match into a hand-over.
"""

from __future__ import annotations

import re
from typing import Literal

from kefu.core.regex_prefilter import LiteralPrefilter

__all__ = ["ESCALATIONS", "Escalation", "detect_escalation"]

Escalation = Literal["legal_threat", "safety", "fraud", "complaint", "bot_unhelpful"]
ESCALATIONS: tuple[Escalation, ...] = (
    "legal_threat", "safety", "fraud", "complaint", "bot_unhelpful",
)  # fmt: skip

_PHRASES: dict[Escalation, str] = {
    "legal_threat": (
        r"12315|12345热线|消协|消费者协会|工商局|市场监管|起诉|告你们|打官司|找律师|律师函|"
        r"法院见|报警|维权|曝光你们|媒体曝光|发到(?:微博|抖音|网上)|"
        r"\b(?:sue|suing|lawsuit|lawyer|attorney|legal action|small claims|"
        r"consumer protection|trading standards|better business bureau|chargeback|"
        r"report(?:ing)? you|call the police)\b"
    ),
    "safety": (
        r"起火|着火|冒烟|爆炸|炸了|漏电|触电|烫伤|烧伤|受伤|割伤|流血|中毒|过敏|住院|"
        r"拉肚子|肚子疼|吃坏|"
        r"\b(?:caught fire|on fire|smok(?:e|ed|ing)|explod(?:e|ed|ing)|electric shock|"
        r"burn(?:ed|t|s)? (?:my|her|his|their|our)|injur(?:y|ed|ies)|poison(?:ed|ing)?|"
        r"allergic reaction|hospital|bleeding|got sick|food poisoning)\b"
    ),
    "fraud": (
        r"被盗|盗号|盗刷|被骗了|诈骗|冒用|不是我(?:本人)?下的单|账号被(?:人)?(?:登录|盗)|"
        r"\b(?:hacked|stolen (?:account|card)|identity theft|fraud(?:ulent)?|"
        r"unauthori[sz]ed (?:charge|order|purchase|payment)s?|"
        r"(?:didn't|did not|never) (?:place|make|order) (?:this|these|that|those))\b"
    ),
    "complaint": (
        r"我要投诉|要投诉|投诉你们|投诉他|投诉她|太气人|气死|破服务|什么破|骗钱|骗子|黑店|"
        r"垃圾服务|推来推去|"
        r"\b(?:(?:want|going|like) to (?:file a )?complain|file a complaint|"
        r"worst (?:service|company|shop)|furious|ripped off|rip-off|scam|"
        r"fed up|unacceptable|disgusting service)\b"
    ),
    "bot_unhelpful": (
        r"答不上来|听不懂|答非所问|不管用|一直查不了|一直不行|还是不行|试了好几次|问了好几[遍次]|"
        r"说了多少[遍次]|第[二三四五两]次问|机器人(?:太|真)?(?:笨|蠢|差劲)|"
        r"\b(?:useless|pointless|(?:isn't|is not|not|doesn't|does not) help(?:ing|ful)?|"
        r"can't answer anything|you don't understand|tried (?:\w+ ){0,2}times|never works|"
        r"same (?:\w+ )?answer|(?:second|third|fourth|fifth) time|stupid bot)\b"
    ),
}
_MATCHERS = {kind: re.compile(pattern, re.IGNORECASE) for kind, pattern in _PHRASES.items()}
# Which kinds' phrases could occur at all, in one pass: most messages escalate nothing, and
# five regex scans cost them ~4x more (a kind is skipped only when it cannot match).
_PREFILTER = LiteralPrefilter([_MATCHERS[kind] for kind in ESCALATIONS])
# A negation right before the phrase: "我不是要投诉", "not going to sue", "no need to report".
_NEGATED_ZH = re.compile(r"(?:不是|不会|不用|不想|没有|并不|不打算|不需要)[^，。！？,.!?]{0,4}$")
_NEGATED_EN = re.compile(
    r"\b(?:not|never|no|don't|won't|wouldn't|isn't|aren't|no need to)\b(?:\W+\w+){0,3}\W*$",
    re.IGNORECASE,
)
# Asking how or where to complain is a question the bot can answer.
_ASKS_HOW = re.compile(
    r"怎么|如何|在哪|哪里|渠道|流程|\b(?:how (?:do|can|to)|where (?:do|can)|what is the process)\b",
    re.IGNORECASE,
)


def detect_escalation(text: str) -> Escalation | None:
    """The first kind of escalation the message expresses (legal threat first), or None."""
    may_match = _PREFILTER.candidates(text)
    for index, kind in enumerate(ESCALATIONS):
        if index not in may_match:
            continue
        for match in _MATCHERS[kind].finditer(text):
            before = text[: match.start()]
            if _NEGATED_ZH.search(before) or _NEGATED_EN.search(before):
                continue
            if kind == "complaint" and _ASKS_HOW.search(text):
                continue
            return kind
    return None
