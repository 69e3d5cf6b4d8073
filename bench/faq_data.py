"""Write BANKING77-as-FAQ evaluation files (JSONL) for ``kefu eval faq``.

One FAQ entry per intent: the intent name humanised as the question ("card_arrival" →
"Card arrival"), the first ``--variants`` training utterances of that intent as its
variants, and a placeholder answer. The test utterances become queries
(``{"text", "faq_id"}``). Nothing is copied into the repository: the files go to
``--out`` (default /tmp/kefu-banking77).

Usage::

    .venv/bin/python bench/faq_data.py [--data /work/shared/data/banking77] [--out DIR]
    kefu eval faq --faq DIR/faq.jsonl --queries DIR/queries.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

DEFAULT_DATA = Path("/work/shared/data/banking77")


def humanise(intent: str) -> str:
    """``card_payment_wrong_exchange_rate`` → ``Card payment wrong exchange rate``."""
    text = intent.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def training_queries(data: Path, per_intent: int, variants: int = 10) -> list[tuple[str, str]]:
    """(text, intent): ``per_intent`` training utterances of each intent that are not among
    the FAQ's ``variants`` (drawn with a fixed seed): questions to fit on, never the test
    split."""
    by_intent: dict[str, list[str]] = {}
    with (data / "train.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            by_intent.setdefault(row["category"], []).append(row["text"].strip())
    rng = random.Random(1)
    asked = []
    for intent, texts in by_intent.items():
        unused = texts[variants:]
        asked += [(text, intent) for text in rng.sample(unused, min(per_intent, len(unused)))]
    return asked


def write_banking77(data: Path, out: Path, variants: int = 10) -> tuple[Path, Path]:
    """Write ``faq.jsonl`` and ``queries.jsonl`` under ``out``; returns their paths."""
    by_intent: dict[str, list[str]] = {}
    with (data / "train.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            by_intent.setdefault(row["category"], []).append(row["text"].strip())
    out.mkdir(parents=True, exist_ok=True)
    faq_path, query_path = out / "faq.jsonl", out / "queries.jsonl"
    with faq_path.open("w", encoding="utf-8") as handle:
        for intent, texts in sorted(by_intent.items()):
            entry = {
                "id": intent,
                "question": humanise(intent),
                "variants": list(dict.fromkeys(texts[:variants])),
                "answer": f"(answer for {intent})",
            }
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    with (
        (data / "test.csv").open(encoding="utf-8", newline="") as source,
        query_path.open("w", encoding="utf-8") as handle,
    ):
        for row in csv.DictReader(source):
            query = {"text": row["text"].strip(), "faq_id": row["category"]}
            handle.write(json.dumps(query, ensure_ascii=False) + "\n")
    return faq_path, query_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("/tmp/kefu-banking77"))
    parser.add_argument("--variants", type=int, default=10, help="training utterances per FAQ")
    args = parser.parse_args()
    faq_path, query_path = write_banking77(args.data, args.out, args.variants)
    print(f"wrote {faq_path} and {query_path}")


if __name__ == "__main__":
    main()
