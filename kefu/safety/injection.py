"""Prompt-injection, jailbreak and system-prompt-extraction heuristics, Chinese and English.

Each rule is a weighted pattern written to stay quiet on ordinary customer questions
("系统提示我支付失败", "please ignore my previous order"). Weights combine like independent
pieces of evidence, so a weak cue (role play, "no restrictions") alone is reported but not
flagged, while two together are. ``leaks_secret`` guards the other side: the answer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from kefu.core.hanzi import to_simplified
from kefu.safety.text import clean_text

__all__ = ["InjectionVerdict", "detect_injection", "leaks_secret"]

_END = r"[^.?!。？！\n]"  # any character within the same sentence
_VERB_EN = (
    r"(?:print|show|reveal|display|output|repeat|tell me|give me|share|leak|dump|paste|"
    r"write out|what(?:'s| is| are| was| were))"
)
_VERB_ZH = (
    r"(?:告诉我|说出|输出|打印|显示|展示|透露|泄露|复述|重复|"
    r"给我看|发给我|发我|贴出|列出|写出|念出)"
)
_YOUR_PROMPT_ZH = r"你的(?:系统提示词?|提示词|系统指令|指令|系统设定|初始设定|设定|prompt)"

# (name, weight, pattern); patterns see NFKC, simplified text with single spaces, and ignore
# case unless they say otherwise.
_RULES: tuple[tuple[str, float, str], ...] = (
    (
        "ignore_instructions",
        0.8,
        rf"\b(?:ignore|disregard|forget|override|bypass|skip)\b{_END}{{0,30}}?\b(?:previous|prior|"
        rf"above|earlier|preceding|all|any|your|these|those|system|original|initial)\b{_END}{{0,20}}?"
        r"\b(?:instructions?|prompts?|rules|guidelines|directives?|constraints|programming)\b",
    ),
    (
        "ignore_instructions_zh",
        0.8,
        rf"(?:忽略|无视|忘记|忘掉|忘了|不要理会|别管|跳过|抛开|丢掉|不用遵守|不要遵守|停止遵守){_END}{{0,12}}?"
        rf"(?:之前|以前|先前|上面|前面|以上|上述|所有|一切|全部|你的|原来|原有|原先|系统|默认)"
        rf"{_END}{{0,8}}?(?:指令|指示|提示词|提示|规则|设定|命令|限制|约束|prompt)",
    ),
    (
        "role_play",
        0.4,
        r"\b(?:you are now|you're now|from now on,? you(?: are|'re| will| must)|pretend (?:to be|"
        r"you are|you're|that you)|act as (?:if|an?)\b|role-?play as|imagine you are|you will "
        r"(?:now )?play the role)|从现在(?:开始|起)[,， ]*你(?:就)?(?:是|扮演|作为|叫|将)|"
        r"你现在(?:是|就是|扮演|作为)(?:一个|一名|一位)(?!人工|真人|客服|机器人)|"
        r"(?:请你|你来|你要|你需要|你就|你必须|请)(?:扮演|假装|装作|充当)|"
        r"(?:扮演|假装|装作|充当)(?:一个|一名|一位|成)|假装(?:你|自己)是|角色扮演",
    ),
    (
        "no_restrictions",
        0.35,
        r"\b(?:no|without|free (?:of|from)|bypass(?:ing)?|remove|disable|ignoring) (?:any |all |"
        r"your |the |of )*(?:restrictions?|limitations?|limits|filters?|censorship|guidelines|"
        r"guardrails|safety|ethics|morals?)\b|\b(?:unrestricted|unfiltered|uncensored)\b|"
        r"(?:没有|不受|无视|摆脱|解除|突破|绕过|绕开|取消|关闭)(?:任何|一切|所有)?"
        r"(?:限制|约束|审查|道德|规则|过滤|安全)|无限制|不受限",
    ),
    ("dan", 0.8, r"\bdo anything now\b|\bdan ?(?:mode|模式|prompt|jailbreak)"),
    ("dan_name", 0.4, r"(?-i:\bDAN\b)"),  # upper case only: "Dan from sales" is a person
    (
        "developer_mode",
        0.7,
        rf"\byou\b{_END}{{0,30}}\b(?:developer|dev|god|dan|jailbreak|unrestricted|debug) mode\b|"
        r"\b(?:developer|god|dan|jailbreak) mode (?:is )?(?:enabled|activated)\b|"
        r"你(?:现在)?(?:已经|将|要|必须|立即|立刻)?(?:进入|切换到|切换为|处于)了?"
        r"(?:开发者|上帝|越狱|调试|dan|无限制)模式|(?:现在|立即|立刻)(?:进入|切换到|开启)"
        r"(?:开发者|上帝|越狱|dan)模式|(?:开发者|上帝|越狱|dan)模式(?:已)?(?:开启|启动|激活)",
    ),
    ("jailbreak_term", 0.3, r"\bjailbr(?:eak|oken)|越狱|developer mode|god mode|开发者模式"),
    (
        "prompt_extraction",
        0.8,
        rf"\b{_VERB_EN}\b{_END}{{0,25}}?\b(?:your|the) (?:(?:system|initial|original|hidden|"
        r"secret|developer|full|exact) )+(?:prompt|instructions|message)\b|"
        rf"\b{_VERB_EN}\b{_END}{{0,15}}?\byour (?:prompt|instructions|system message)\b"
        r"(?! (?:for|on|about|to|regarding))|"
        rf"{_VERB_ZH}{_END}{{0,8}}?(?:{_YOUR_PROMPT_ZH}|系统提示词|初始指令|原始指令|系统指令|"
        rf"隐藏指令|system prompt)|(?:把|将)?{_YOUR_PROMPT_ZH}{_END}{{0,10}}?(?:告诉|发|给|输出|"
        rf"打印|说|显示|展示|复述|重复|列出|贴)|{_YOUR_PROMPT_ZH}(?:是什么|是啥|有哪些|的内容)",
    ),
    ("system_prompt_term", 0.4, r"\bsystem prompt\b|系统提示词"),
    (
        "repeat_above",
        0.5,
        r"\b(?:repeat|print|output|copy|recite|write)\b[^.?!\n]{0,20}?\b(?:text|words|everything|"
        r"all|content) (?:above|before this|preceding|so far)\b",
    ),
    (
        "repeat_above_zh",
        0.45,
        r"(?:重复|复述|输出|打印|复制|念)[^。？！\n]{0,6}?(?:上面|以上|上述|前面|之前)的?(?:所有|全部)?"
        r"(?:内容|文字|文本|话|一切)",
    ),
    (
        "verbatim",
        0.35,
        r"\b(?:verbatim|word for word|word-for-word|from the (?:very )?(?:beginning|start|top))\b|"
        r"逐字|一字不[差漏改]|原封不动|从头到尾|最开始的|(?:所有|全部)(?:内容|文字)",
    ),
    (
        "fake_role_marker",
        0.7,
        r"<\|im_(?:start|end)\|>|<\|(?:system|assistant|user)\|>|\[/?inst\]|<</?sys>>|"
        r"###\s*(?:system|instruction)|\bnew (?:system )?instructions?\s*:|"
        r"(?:新的?|真正的|最新的?)(?:系统)?(?:指令|规则|任务)\s*:",
    ),
    ("role_label", 0.3, r"^\s*(?:system|assistant|系统)\s*:"),
    ("no_longer_assistant", 0.4, r"\byou(?: are|'re) no longer\b|你(?:已经)?不再是"),
)
_COMPILED = tuple(
    (name, weight, re.compile(to_simplified(pattern), re.ASCII | re.IGNORECASE | re.MULTILINE))
    for name, weight, pattern in _RULES
)


@dataclass(frozen=True, slots=True)
class InjectionVerdict:
    """Whether a text looks like an injection; ``reasons`` name the rules that matched."""

    flagged: bool
    score: float
    reasons: list[str]


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", clean_text(text))
    return re.sub(r"[^\S\n]+", " ", to_simplified(text))


def detect_injection(text: str, *, threshold: float = 0.5) -> InjectionVerdict:
    """Score ``text`` against the rules; flagged when the combined score reaches ``threshold``."""
    normalised = _normalise(text)
    reasons = [name for name, _, pattern in _COMPILED if pattern.search(normalised)]
    miss = 1.0
    for name, weight, _ in _COMPILED:
        if name in reasons:
            miss *= 1.0 - weight
    score = round(1.0 - miss, 3)
    return InjectionVerdict(flagged=score >= threshold, score=score, reasons=reasons)


def leaks_secret(answer: str, secrets: Iterable[str], *, min_chars: int = 30) -> bool:
    """Whether ``answer`` repeats ``min_chars`` consecutive characters of any secret.

    Whitespace runs count as one space and case is folded on both sides, so re-wrapped
    copies count. A secret shorter than ``min_chars`` leaks only whole (and only from 8 characters:
    shorter strings are too common to mean anything).
    """
    text = _squeeze(answer)
    for secret in secrets:
        needle = _squeeze(secret)
        size = min(min_chars, len(needle))
        if size < 8 or len(text) < size:
            continue
        fragments = {needle[i : i + size] for i in range(len(needle) - size + 1)}
        if any(text[i : i + size] in fragments for i in range(len(text) - size + 1)):
            return True
    return False


def _squeeze(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
