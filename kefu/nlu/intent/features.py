"""Text → one sparse feature row per utterance: n-gram TF-IDF blocks plus sentence vectors.

Each block is L2-normalised on its own and then weighted, so no block drowns the others
however many n-grams it has. The weights were measured (docs/evaluation.md): sentence
vectors count twice for MiniLM and 1.25 for USE (they carry meaning across paraphrases);
Chinese part-of-speech n-grams count 0.7 (a hint about the *kind* of words, never the
words themselves); Chinese segmented character n-grams (jieba's word boundaries marked)
count 1.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from kefu.core.hanzi import fold_chinese
from kefu.knowledge.embedders import Embedder
from kefu.knowledge.tokenizer import CJK_RANGES, has_chinese, jieba_tokenizer

__all__ = ["Progress", "TextFeatures", "embedding_weight", "segmented_ngrams"]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while a long step runs."""

_CJK = CJK_RANGES
_WORD = re.compile(rf"(?:(?![{_CJK}])[^\W_])+")

# Longest character n-gram inside one whitespace-separated word. A Chinese "word" is a
# whole unsegmented phrase: bigrams generalise best there (5-fold CV on SMP2017: 1-2 grams
# 92.0% vs 1-4 grams 91.2%, both with part-of-speech n-grams), while Latin-script words
# gain from longer grams (prefixes, stems, typos).
_MAX_CHAR_N_LATIN = 4
_MAX_CHAR_N_CJK = 2
_POS_WEIGHT = 0.7
# Sentence-vector weight per encoder (by its ``name``). MiniLM's 2 was measured on BANKING77
# and CLINC150. USE's 1.25 was chosen by 5-fold CV on SMP2017 *train* only (develop never
# looked at; bench/intent_cv.py): 1 / 1.25 / 1.5 / 2 gave 93.41 / 93.26 / 93.34 / 93.06 %
# over 10 folds, and on five fresh shuffles 1.25 vs 2 gave 93.33 vs 93.07 % (15 of 25
# folds better, 6 worse).
_EMBEDDING_WEIGHTS = {"use-multilingual-v3": 1.25}
_DEFAULT_EMBEDDING_WEIGHT = 2.0
# Above this many examples, n-grams seen in only one example are dropped: it halves the
# weight matrix (memory) and changed no measured accuracy by more than 0.03 points.
_PRUNE_FROM_EXAMPLES = 5000
_EMBED_BATCH = 256
# Words whose character n-gram columns a featuriser keeps (see TextFeatures._char_columns):
# customers reuse their words, so most of a query's words are found here (87 % over the
# realistic load's distinct messages). Cleared whole when full: bounded, and never stale
# (a fitted vocabulary does not change; fitting again clears it).
_WORD_CACHE_SIZE = 4096


def embedding_weight(embedder: Embedder) -> float:
    """How much an encoder's unit sentence vector counts next to the unit n-gram blocks."""
    return _EMBEDDING_WEIGHTS.get(embedder.name, _DEFAULT_EMBEDDING_WEIGHT)


@functools.lru_cache(maxsize=16)
def normalize(text: str) -> str:
    """NFKC, lower case, simplified Chinese with common typos folded (劵 → 券).

    Cached (a pure function; a few entries): the blocks of one query each normalise it.
    """
    return fold_chinese(unicodedata.normalize("NFKC", text).lower())


def char_ngrams(text: str) -> list[str]:
    """Character n-grams within each space-padded word (scikit-learn's ``char_wb``)."""
    grams: list[str] = []
    for word in normalize(text).split():
        grams += _word_char_ngrams(word)
    return grams


def _word_char_ngrams(word: str) -> list[str]:
    """One word's character n-grams: they depend on the word alone (a word with Chinese in
    it is Chinese; its text then is too), so a server can look them up per word."""
    # Built with C-level iteration (a str iterates by character; map pairs characters) and
    # list comprehensions rather than a generator per size: this runs for every query, and
    # the grams come out the same and in the same order, ~2x faster.
    longest = _MAX_CHAR_N_CJK if has_chinese(word) else _MAX_CHAR_N_LATIN
    padded = f" {word} "
    width = len(padded)  # at least 3, so 1- and 2-grams never reach the whole word
    grams: list[str] = [*padded]
    grams += map(operator.add, padded, padded[1:])
    for size in range(3, longest + 1):
        if size >= width:
            grams.append(padded)  # a short word counts once, whole
            break
        grams += [padded[i : i + size] for i in range(width - size + 1)]
    return grams


def word_ngrams(text: str) -> list[str]:
    """Word unigrams and bigrams of the non-Chinese words (Chinese is left to characters)."""
    words = _WORD.findall(normalize(text))
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


_tagger: Any = None
_tagger_lock = threading.Lock()


def _pos_tagger() -> Any:
    """jieba's part-of-speech tagger over retrieval's segmenter, built once.

    Sharing the segmenter shares jieba's dictionary (~64 MB) with the knowledge index; the
    tag table itself adds ~43 MB, paid only by apps with Chinese examples.
    """
    global _tagger
    if _tagger is None:
        with _tagger_lock:
            if _tagger is None:
                import jieba.posseg

                _tagger = jieba.posseg.POSTokenizer(jieba_tokenizer())
    return _tagger


@functools.lru_cache(maxsize=64)
def _tagged(text: str) -> tuple[tuple[str, str], ...]:
    """jieba's (word, part of speech) pairs of ``text``, normalised, blanks dropped.

    Cached: a query goes through two blocks that both need it.
    """
    pairs = _pos_tagger().lcut(normalize(text))
    return tuple((pair.word, pair.flag) for pair in pairs if pair.word.strip())


def pos_ngrams(text: str) -> list[str]:
    """Part-of-speech 1-3 grams of Chinese text (``ns v ns``: place to place); else none."""
    if not has_chinese(text):
        return []
    tags = ["<s>", *(flag for _, flag in _tagged(text)), "</s>"]
    grams: list[str] = []
    for size in (1, 2, 3):
        grams.extend(" ".join(tags[i : i + size]) for i in range(len(tags) - size + 1))
    return grams


def segmented_ngrams(text: str) -> list[str]:
    """Character 1-3 grams of Chinese text with jieba's word boundaries marked; else none.

    ``打开|淘宝|购物`` gives ``|淘`` and ``宝|购``: a gram says whether it starts, ends or
    straddles a word, which plain character grams cannot (5-fold CV on SMP2017 train, six
    shuffles: 90.26% → 90.82%, better in 23 of 30 folds, worse in 3).
    """
    if not has_chinese(text):
        return []
    joined = "|" + "|".join(word for word, _ in _tagged(text)) + "|"
    return [joined[i : i + n] for n in (1, 2, 3) for i in range(len(joined) - n + 1)]


@dataclass(frozen=True, slots=True)
class _Block:
    """A fitted TF-IDF block: its vocabulary, IDF weights and place in the feature row."""

    name: str
    analyzer: Callable[[str], list[str]]
    weight: float
    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float32]
    offset: int
    # word -> its character n-grams' columns in ``vocabulary`` (see ``_char_columns``):
    # a block's own, so a refitted block starts without one
    word_columns: dict[str, tuple[int | None, ...]] = field(default_factory=dict)


class TextFeatures:
    """Fits the enabled feature blocks on the training texts, then maps any text to a row.

    Fitting uses scikit-learn's ``TfidfVectorizer``; mapping new text is done here with the
    fitted vocabulary and IDF (same numbers: sublinear tf x idf, L2 per block), because the
    vectorizer's input validation alone cost ~1 ms a query, a tenth of the budget.
    """

    def __init__(
        self,
        *,
        char: bool,
        word: bool,
        pos: bool,
        embedder: Embedder | None,
        segmented: bool = False,
    ) -> None:
        self._wanted: list[tuple[str, Callable[[str], list[str]], float]] = []
        if char:
            self._wanted.append(("char n-grams", char_ngrams, 1.0))
        if word:
            self._wanted.append(("word n-grams", word_ngrams, 1.0))
        if pos:
            self._wanted.append(("part-of-speech n-grams", pos_ngrams, _POS_WEIGHT))
        if segmented:
            self._wanted.append(("segmented character n-grams", segmented_ngrams, 1.0))
        self._embedder = embedder
        self._blocks: list[_Block] = []
        self._width = 0  # columns of the n-gram blocks; embeddings follow
        self._idf = np.zeros(0, dtype=np.float32)  # every block's IDF, by column

    def _add_block(
        self,
        name: str,
        analyzer: Callable[[str], list[str]],
        weight: float,
        vocabulary: dict[str, int],
        idf: npt.NDArray[np.float32],
    ) -> None:
        self._blocks.append(_Block(name, analyzer, weight, vocabulary, idf, self._width))
        self._width += len(idf)
        self._idf = np.concatenate([self._idf, idf])

    @property
    def embedder(self) -> Embedder | None:
        """The sentence encoder whose vectors follow the n-gram blocks, if any."""
        return self._embedder

    @property
    def names(self) -> list[str]:
        """Human-readable names of the blocks in use (after fitting: those with a vocabulary)."""
        names = [block.name for block in self._blocks]
        if self._embedder is not None:
            names.append(f"sentence embeddings ({self._embedder.name})")
        return names

    def fit_transform(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> sp.csr_matrix:
        min_df = 2 if len(texts) >= _PRUNE_FROM_EXAMPLES else 1
        self._blocks = []
        self._width = 0
        self._idf = np.zeros(0, dtype=np.float32)
        matrices = []
        from sklearn.feature_extraction.text import TfidfVectorizer  # fitting only

        for name, analyzer, weight in self._wanted:
            vectorizer = TfidfVectorizer(
                analyzer=analyzer, sublinear_tf=True, min_df=min_df, dtype=np.float32
            )
            try:
                matrix = vectorizer.fit_transform(texts)
            except ValueError:  # an empty vocabulary: e.g. no Chinese for POS n-grams
                continue
            vocabulary = {str(gram): int(column) for gram, column in vectorizer.vocabulary_.items()}
            idf = np.asarray(vectorizer.idf_, dtype=np.float32)
            self._add_block(name, analyzer, weight, vocabulary, idf)
            matrices.append(matrix * np.float32(weight))
        if self._embedder is not None:
            matrices.append(sp.csr_matrix(self._embed(texts, progress)))
        if not matrices:
            raise ValueError("no features: every feature block is off or empty")
        return sp.hstack(matrices, format="csr", dtype=np.float32)

    def transform(self, texts: Sequence[str], progress: Progress | None = None) -> sp.csr_matrix:
        indptr = [0]
        indices: list[npt.NDArray[np.int32]] = []
        data: list[npt.NDArray[np.float32]] = []
        for columns, values in map(self.ngram_row, texts):
            indices.append(columns)
            data.append(values)
            indptr.append(indptr[-1] + len(columns))
        ngrams = sp.csr_matrix(
            (
                np.concatenate(data) if data else np.zeros(0, dtype=np.float32),
                np.concatenate(indices) if indices else np.zeros(0, dtype=np.int32),
                np.array(indptr, dtype=np.int32),
            ),
            shape=(len(texts), self._width),
        )
        if self._embedder is None:
            return ngrams
        vectors = sp.csr_matrix(self._embed(texts, progress))
        return sp.hstack([ngrams, vectors], format="csr", dtype=np.float32)

    def ngram_row(self, text: str) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """The non-zero n-gram columns of ``text``'s feature row and their values, without a
        sparse matrix: what a server scoring one query needs (kefu.nlu.intent.linear)."""
        counted: list[tuple[_Block, Counter[int | None]]] = []
        for block in self._blocks:
            # map + Counter run in C: ~3x faster than a generator filtering unknown grams.
            if block.analyzer is char_ngrams:
                counts = Counter(self._char_columns(block, text))
            else:
                counts = Counter(map(block.vocabulary.get, block.analyzer(text)))
            counts.pop(None, None)
            if counts:
                counted.append((block, counts))
        if not counted:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        # All blocks in one array: at ~100 entries numpy's per-call overhead, not the
        # arithmetic, is the cost, so each elementwise step runs once over the whole row (the
        # same numbers, bit for bit, as block by block; only the L2 sums stay per block).
        size = sum(len(counts) for _, counts in counted)
        columns = np.fromiter(
            itertools.chain.from_iterable(counts.keys() for _, counts in counted),
            dtype=np.int32,
            count=size,
        )
        tf = np.fromiter(
            itertools.chain.from_iterable(counts.values() for _, counts in counted),
            dtype=np.float32,
            count=size,
        )
        spans: list[tuple[float, int, int]] = []
        start = 0
        for block, counts in counted:
            end = start + len(counts)
            if block.offset:
                columns[start:end] += np.int32(block.offset)
            spans.append((block.weight, start, end))
            start = end
        values = cast("npt.NDArray[np.float32]", (np.log(tf) + 1.0) * self._idf[columns])
        squares = np.square(values)
        for weight, start, end in spans:
            # The L2 norm by ufuncs, not np.linalg.norm: its BLAS dot releases the GIL, and
            # under load the encoder thread then holds the event loop up (measured: 0.3 ms).
            values[start:end] *= np.float32(weight) / np.sqrt(squares[start:end].sum())
        return columns, values

    def _char_columns(self, block: _Block, text: str) -> Iterator[int | None]:
        """``map(block.vocabulary.get, char_ngrams(text))``, word by word from a cache: the
        same columns in the same order (so the same row, bit for bit); a prediction over the
        realistic load's messages costs ~70 µs instead of ~88. ~1 MB when full."""
        known = block.word_columns
        columns: list[tuple[int | None, ...]] = []
        for word in normalize(text).split():
            found = known.get(word)
            if found is None:
                if len(known) >= _WORD_CACHE_SIZE:
                    known.clear()
                found = known[word] = tuple(map(block.vocabulary.get, _word_char_ngrams(word)))
            columns.append(found)
        return itertools.chain.from_iterable(columns)

    def embedded(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> npt.NDArray[np.float32] | None:
        """The weighted sentence vectors that follow the n-gram columns (None: no encoder)."""
        return None if self._embedder is None else self._embed(texts, progress)

    def _embed(self, texts: Sequence[str], progress: Progress | None) -> np.ndarray:
        assert self._embedder is not None
        if len(texts) <= _EMBED_BATCH or progress is None:
            vectors = self._embedder.embed(texts)
        else:
            parts = []
            for begin in range(0, len(texts), _EMBED_BATCH):
                parts.append(self._embedder.embed(texts[begin : begin + _EMBED_BATCH]))
                progress("embedding", min(begin + _EMBED_BATCH, len(texts)), len(texts))
            vectors = np.vstack(parts)
        return vectors * np.float32(embedding_weight(self._embedder))

    # --- saving a fitted featuriser without pickle (the FAQ classifier stores it) -------

    @property
    def width(self) -> int:
        """Columns of the fitted n-gram blocks (sentence vectors, if any, follow them)."""
        return self._width

    def state(self) -> list[dict[str, Any]]:
        """The fitted n-gram blocks as JSON values (name, weight, vocabulary, IDF)."""
        return [
            {
                "name": block.name,
                "weight": block.weight,
                "vocabulary": block.vocabulary,
                "idf": block.idf.tolist(),
            }
            for block in self._blocks
        ]

    @classmethod
    def from_state(
        cls, state: Sequence[dict[str, Any]], embedder: Embedder | None = None
    ) -> TextFeatures:
        """A fitted featuriser from :meth:`state`; ValueError for a block it does not know."""
        analyzers = {
            "char n-grams": char_ngrams,
            "word n-grams": word_ngrams,
            "part-of-speech n-grams": pos_ngrams,
            "segmented character n-grams": segmented_ngrams,
        }
        features = cls(char=False, word=False, pos=False, embedder=embedder)
        for saved in state:
            analyzer = analyzers.get(saved["name"])
            if analyzer is None:
                raise ValueError(f"unknown feature block {saved['name']!r}")
            vocabulary = {str(gram): int(column) for gram, column in saved["vocabulary"].items()}
            idf = np.asarray(saved["idf"], dtype=np.float32)
            if len(vocabulary) != len(idf):
                raise ValueError(f"feature block {saved['name']!r}: vocabulary and IDF differ")
            features._add_block(saved["name"], analyzer, float(saved["weight"]), vocabulary, idf)
        return features
