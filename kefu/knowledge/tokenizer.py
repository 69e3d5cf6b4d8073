"""Tokenization for lexical retrieval: one function shared by indexing and querying.

Chinese is segmented with jieba's dictionary (precise mode without HMM, plus the sub-words
``cut_for_search`` would add, so "收货地址" also matches "地址"); English is split into
words with a tiny suffix stemmer. Both drop stopwords, and question words that customers
use interchangeably (多久 / 几天 / 什么时候, "how long" / "when") are folded into one token.
Traditional characters and common typos (劵, 优惠卷, 登陆) are folded first
(:func:`kefu.core.hanzi.fold_chinese`), so 退貨運費 finds 退货运费.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import unicodedata
from pathlib import Path

from kefu.core.hanzi import fold_chinese
from kefu.core.types import Language
from kefu.knowledge._jieba import jieba

__all__ = [
    "CJK_RANGES",
    "QUESTION_TOKENS",
    "TOKENIZER_VERSION",
    "detect_language",
    "has_chinese",
    "informativeness",
    "jieba_tokenizer",
    "tokenize",
    "tokenize_question",
]

# Bump whenever tokenize() output changes: persisted indexes built with another version
# are then rebuilt instead of loaded.
TOKENIZER_VERSION = 4

CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # ideographs, for regex classes
_CJK = CJK_RANGES
_HAS_CJK = re.compile(f"[{_CJK}]")
_WORD = rf"(?:(?![{_CJK}])[^\W_])+"
# A run of ideographs, or a word in any other script (letters and digits, "don't" whole).
_RUN = re.compile(rf"([{_CJK}]+)|({_WORD}(?:'{_WORD})?)")

# Function words, pronouns, generic question words (怎么 / 如何 / what / how are phrased
# either way), and words every shop question implies (东西 / 商品, item / bought). Measured
# on the test FAQ: keeping them pushed paraphrases below the threshold and junk above it.
ZH_STOPWORDS = frozenset(
    """的 了 吗 呢 吧 啊 呀 哦 嗯 么 嘛 啦 哈 呗 我 你 您 他 她 它 我们 你们 他们 咱 自己
    是 在 和 与 及 或 就 都 也 还 又 再 这 那 这个 那个 这样 一下 一个 个 一些 请 请问 麻烦
    能 能否 可以 可不可以 要 想 想要 会 需要 得 地 着 过 被 把 给 让 对 从 有 没有 后
    怎么 如何 怎样 怎么样 怎么办 什么 为什么 为啥 是否 是不是 哪些 谁 多少
    东西 商品 产品 宝贝 货品""".split()
)
EN_STOPWORDS = frozenset(
    """a an the is are was were be been being am do does did doing i me my mine you your yours
    we our ours us it its he she they them their to of in on for at by with from and or but
    can could will would shall should may might must how what which who whom this that these
    those there here have has had having please if so not no any some just also about into
    want need like let get gets got getting way too take takes taking took don doesn didn
    isn aren wasn won haven hasn couldn wouldn shouldn something anything thing things stuff
    item items product products goods buy bought""".split()
)
# Question words customers use interchangeably (多久 / 几天 / 什么时候) fold into one token
# rather than being dropped: a "how long" question is not a "how to" question.
_QUESTION_SYNONYMS = {
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
    "soon": "when",
}
# The tokens those fold into (and "how long" becomes "when"): they ask, they name no topic.
QUESTION_TOKENS = frozenset({*_QUESTION_SYNONYMS.values(), "when"})
# jieba's general dictionary splits shop phrases badly ("退货运费" → 退 / 货运费,
# "7天无理由" → 7 / 天无 / 理由); these edits fix the common ones.
_DOMAIN_WORDS = (
    "什么时候",
    "到账",
    "无理由",
    "运费险",
    "七天无理由",
    "退差价",
    "转人工",
    "人工客服",
    "包邮",
)
# 开发票 is 开 + 发票 in a shop, never 开发 ("develop") + 票.
_DOMAIN_REMOVED = ("货运费", "天无", "开发", "开发票")

logger = logging.getLogger(__name__)

_jieba: jieba.Tokenizer | None = None
_jieba_lock = threading.Lock()

# General-language IDF shipped with jieba (jieba.analyse's idf.txt). Words below
# _FULL_WEIGHT_IDF (今天 5.0, 一般 4.3, 不 2.6) are common enough to say little about what
# a customer asks; only those (~9k words) are kept in memory.
_FULL_WEIGHT_IDF = 8.0
_SINGLE_CHARACTER_FACTOR = 0.7  # 扣, 出, 退: a lone ideograph says little on its own
_NUMBER_FACTOR = 0.5  # 80 (块), 20 (元): amounts and dates rarely name the topic
_common_words: dict[str, float] | None = None


def jieba_tokenizer() -> jieba.Tokenizer:
    """The process's one jieba tokenizer with the shop words, built once (thread-safe)
    without log noise on stderr. Share it rather than build another: its dictionary
    takes ~64 MB."""
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


def informativeness(token: str) -> float:
    """How much a token says about the question, in (0, 1]: 1 for topic words.

    Multiplies the token's IDF in the knowledge, so words common in any Chinese text
    count less even where the knowledge has few examples to learn that from.
    """
    if token.isdigit():
        return _NUMBER_FACTOR
    factor = 1.0
    if _HAS_CJK.match(token):
        common = _common_words if _common_words is not None else _load_common_words()
        factor = min(1.0, common.get(token, _FULL_WEIGHT_IDF) / _FULL_WEIGHT_IDF)
    if len(token) == 1 and not token.isascii():
        factor *= _SINGLE_CHARACTER_FACTOR
    return factor


def _load_common_words() -> dict[str, float]:
    global _common_words
    with _jieba_lock:
        if _common_words is None:
            common: dict[str, float] = {}
            path = Path(jieba.__file__).parent / "analyse" / "idf.txt"
            try:
                with path.open(encoding="utf-8") as lines:
                    for line in lines:
                        word, _, idf = line.rstrip().rpartition(" ")
                        if float(idf) < _FULL_WEIGHT_IDF:
                            common[word] = float(idf)
            except (OSError, ValueError) as exc:  # a trimmed jieba install: weigh words alike
                logger.warning("cannot read jieba's word statistics %s: %s", path, exc)
            _common_words = common
    return _common_words


def has_chinese(text: str) -> bool:
    """Whether ``text`` holds any Chinese ideograph."""
    return _HAS_CJK.search(text) is not None


def detect_language(text: str) -> Language:
    """``"zh"`` if the text holds any CJK ideograph, else ``"en"``."""
    return "zh" if _HAS_CJK.search(text) else "en"


def tokenize(text: str) -> list[str]:
    """Normalise (NFKC, lowercase, simplified Chinese, typos folded) and split ``text`` into
    retrieval tokens, in order."""
    text = fold_chinese(unicodedata.normalize("NFKC", text).lower().replace("’", "'"))
    tokens: list[str] = []
    previous = ""
    for match in _RUN.finditer(text):
        chinese, word = match.groups()
        if chinese:
            tokens.extend(_chinese_tokens(chinese))
            previous = ""
            continue
        if "'" in word:
            word = word.split("'", 1)[0]  # "order's" → "order", "don't" → "don" (a stopword)
        if previous == "how" and word in ("long", "soon"):
            tokens.append("when")  # "how long" / "how soon" ask what "when" asks
        elif word not in EN_STOPWORDS:
            tokens.append(_english_token(word))
        previous = word
    return tokens


# A turn tokenizes its question several times (the semantic cache's content words, the FAQ
# and passage matches, the passages' topic check): :func:`tokenize_question` remembers the
# last few questions' tokens, so each is cut once. Bounded in entries and in text length, and
# never stale: tokens depend only on the text (the dictionary is fixed for the process).
_QUESTION_MEMO = 256
_QUESTION_MEMO_CHARS = 1_000  # longer texts (not questions: documents) are not remembered


def tokenize_question(text: str) -> tuple[str, ...]:
    """:func:`tokenize` of a question, as a tuple, remembered for the last few questions."""
    if len(text) > _QUESTION_MEMO_CHARS:
        return tuple(tokenize(text))
    return _remembered_tokens(text)


@functools.lru_cache(maxsize=_QUESTION_MEMO)
def _remembered_tokens(text: str) -> tuple[str, ...]:
    return tuple(tokenize(text))


@functools.lru_cache(maxsize=65_536)
def _english_token(word: str) -> str:
    """A word's token; cached, as a corpus repeats its words (Zipf) and indexing is hot."""
    return _QUESTION_SYNONYMS.get(word) or stem(word)


# jieba's Han blocks (the ideographs of its ``re_han_default``): it routes each block on its
# own and yields any other character (CJK extension A, compatibility ideographs) alone
_JIEBA_HAN = re.compile("[\u4e00-\u9fd5]+")


def _segment(segmenter: jieba.Tokenizer, run: str) -> list[str]:
    """jieba's precise mode without HMM (``lcut(run, HMM=False)``) for a run of ideographs.

    The same blocks, dictionary DAG and maximum-probability route, ties broken the same way,
    without jieba's generators and DAG dicts: 1.7x faster, and segmentation is most of the
    time it takes to index Chinese documents. Blocks are routed apart, as jieba does: one
    route across a character outside them adds the log-probabilities in another order, and
    a tie between two cuts ("款款|款" / "款|款款") can then round the other way.
    """
    words: list[str] = []
    position = 0
    for block in _JIEBA_HAN.finditer(run):
        words.extend(run[position : block.start()])  # one word per character outside
        words.extend(_route(segmenter, block.group()))
        position = block.end()
    words.extend(run[position:])
    return words


def _route(segmenter: jieba.Tokenizer, run: str) -> list[str]:
    """The maximum-probability cut of one Han block (jieba's ``calc`` over its DAG)."""
    freq = segmenter.FREQ
    log_total = math.log(segmenter.total)
    size = len(run)
    best = [0.0] * (size + 1)  # best[k]: log-probability of the best route from k
    stop = [0] * (size + 1)  # stop[k]: where the first word of that route ends
    for start in range(size - 1, -1, -1):
        chosen: tuple[float, int] | None = None
        end = start
        fragment = run[start]
        while end < size and fragment in freq:  # FREQ holds every word and its prefixes
            count = freq[fragment]
            if count:
                candidate = (math.log(count) - log_total + best[end + 1], end)
                if chosen is None or candidate > chosen:
                    chosen = candidate
            end += 1
            fragment = run[start : end + 1]
        if chosen is None:  # no dictionary word starts here: a single character
            chosen = (math.log(freq.get(run[start]) or 1) - log_total + best[start + 1], start)
        best[start], stop[start] = chosen
    words: list[str] = []
    position = 0
    while position < size:
        words.append(run[position : stop[position] + 1])
        position = stop[position] + 1
    return words


def _chinese_tokens(run: str) -> list[str]:
    segmenter = jieba_tokenizer()
    freq = segmenter.FREQ
    tokens: list[str] = []
    # No HMM: it glues unknown character runs into words (付完款 → 完款, 想换一双 → 想换)
    # that a curated question never contains; dictionary words and single characters
    # match across phrasings (measured on the demo's held-out questions: 23 → 28 of 40).
    for word in _segment(segmenter, run):
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
                    if freq.get(gram) and gram not in ZH_STOPWORDS:
                        tokens.append(_QUESTION_SYNONYMS.get(gram, gram))
        tokens.append(word)
    return tokens


def stem(word: str) -> str:
    """Strip common English inflections ("shipping" → "ship", "returns" → "return").

    Written by hand because it is ten lines and must map a word and its inflections to
    the same token, not to a dictionary form; a Snowball stemmer would be an extra
    dependency for little gain on short customer questions.
    """
    if len(word) <= 3 or not (word.isascii() and word.isalpha()):
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
