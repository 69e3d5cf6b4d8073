"""Tokenization for lexical retrieval: one function shared by indexing and querying.

Chinese is segmented with jieba (precise mode, plus the dictionary sub-words that
``cut_for_search`` would add, so "收货地址" also matches "地址"); English is split into
words with a tiny suffix stemmer. Both drop stopwords, and question words that customers
use interchangeably (多久 / 几天 / 什么时候, "how long" / "when") are folded into one token.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata

import jieba

from kefu.core.types import Language

__all__ = ["detect_language", "tokenize"]

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAS_CJK = re.compile(f"[{_CJK}]")
# A run of ideographs, or an ASCII word (keeping an apostrophe suffix), or another letter run.
_RUN = re.compile(rf"([{_CJK}]+)|([a-z0-9]+(?:'[a-z]+)?)|([^\W\d_]+)")

ZH_STOPWORDS = frozenset(
    """的 了 吗 呢 吧 啊 呀 哦 嗯 么 嘛 啦 哈 呗 我 你 您 他 她 它 我们 你们 他们 咱 是 在 和 与
    及 或 就 都 也 还 又 再 这 那 这个 那个 这样 一下 一个 个 请 请问 麻烦 能 能否 可以 可不可以
    要 想 想要 会 得 地 着 过 被 把 给 让 对 从 吗 有 没有 自己 怎么 如何 怎样 怎么样 怎么办 什么
    为什么 为啥 是否 是不是 后 一些 哪些 谁 多少 给
    东西 商品 产品 宝贝 货品""".split()
)
EN_STOPWORDS = frozenset(
    """a an the is are was were be been being am do does did doing i me my mine you your yours
    we our ours us it its he she they them their to of in on for at by with from and or but
    can could will would shall should may might must how what which who whom this that these
    those there here have has had having please if so not no any some just also about into
    want need would like let
    something anything thing things stuff item items product products goods buy bought""".split()
)
# Question words customers use interchangeably; each folds into one canonical token.
_QUESTION_SYNONYMS = {
    "多久": "多久",
    "多长": "多久",
    "多长时间": "多久",
    "几天": "多久",
    "多少天": "多久",
    "什么时候": "多久",
    "啥时候": "多久",
    "何时": "多久",
    "哪里": "哪",
    "哪儿": "哪",
    "在哪": "哪",
    "在哪里": "哪",
    "哪": "哪",
    "when": "when",
    "soon": "when",
}
# jieba's general dictionary splits shop phrases badly ("退货运费" → 退 / 货运费,
# "7天无理由" → 7 / 天无 / 理由); these edits fix the common ones.
_DOMAIN_WORDS = ("什么时候", "无理由", "运费险", "七天无理由", "退差价", "转人工", "人工客服")
_DOMAIN_REMOVED = ("货运费", "天无")

_jieba: jieba.Tokenizer | None = None
_jieba_lock = threading.Lock()


def _segmenter() -> jieba.Tokenizer:
    """A private jieba tokenizer, built once (thread-safe) without log noise on stderr."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                jieba.setLogLevel(logging.WARNING)
                segmenter = jieba.Tokenizer()
                segmenter.initialize()
                for word in _DOMAIN_WORDS:
                    segmenter.add_word(word)
                for word in _DOMAIN_REMOVED:
                    segmenter.del_word(word)
                _jieba = segmenter
    return _jieba


def detect_language(text: str) -> Language:
    """``"zh"`` if the text holds any CJK ideograph, else ``"en"``."""
    return "zh" if _HAS_CJK.search(text) else "en"


def tokenize(text: str) -> list[str]:
    """Normalise (NFKC, lowercase) and split ``text`` into retrieval tokens, in order."""
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    previous_en = ""
    for match in _RUN.finditer(text):
        chinese, english, other = match.groups()
        if chinese:
            tokens.extend(_chinese_tokens(chinese))
            previous_en = ""
        elif english:
            # "how long" / "how soon" ask the same thing as "when".
            if previous_en == "how" and english in ("long", "soon"):
                tokens.append("when")
            elif english not in EN_STOPWORDS:
                tokens.append(_QUESTION_SYNONYMS.get(english) or stem(english))
            previous_en = english
        elif other:
            tokens.append(other)
            previous_en = ""
    return tokens


def _chinese_tokens(run: str) -> list[str]:
    segmenter = _segmenter()
    freq = segmenter.FREQ
    tokens: list[str] = []
    for word in segmenter.lcut(run):
        if word in ZH_STOPWORDS:
            continue
        canonical = _QUESTION_SYNONYMS.get(word)
        if canonical is not None:
            tokens.append(canonical)
            continue
        # The sub-words cut_for_search adds, minus stopwords and question words.
        for size in (2, 3):
            if len(word) > size:
                for start in range(len(word) - size + 1):
                    gram = word[start : start + size]
                    if freq.get(gram) and gram not in ZH_STOPWORDS and gram != word:
                        tokens.append(_QUESTION_SYNONYMS.get(gram, gram))
        tokens.append(word)
    return tokens


def stem(word: str) -> str:
    """Strip common English inflections ("shipping" → "ship", "returns" → "return").

    Written by hand because it is ten lines and must map a word and its inflections to
    the same token, not to a dictionary form; a Snowball stemmer would be an extra
    dependency for little gain on short customer questions.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if word[-1] == word[-2] and word[-1] not in "lsz":  # shipp → ship
                word = word[:-1]
            break
    if word.endswith("e") and len(word) > 3:  # take / taking / takes → tak
        word = word[:-1]
    return word
