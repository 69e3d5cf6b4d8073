"""Convert the public intent data sets into the JSONL files ``kefu eval intent`` reads.

    python bench/intent_data.py          # ../shared/data → /tmp/kefu-intent-data
    python bench/intent_data.py --data DIR --out DIR

Writes one ``{"text": ..., "label": ...}`` object per line:

- ``banking77_train.jsonl`` / ``banking77_test.jsonl``: BANKING77 full training set and test set;
- ``banking77_train10.jsonl``: the fixed 10-examples-per-intent sample;
- ``clinc150_train.jsonl`` / ``clinc150_val.jsonl``: CLINC150 train + oos_train, val + oos_val
  (out-of-scope rows labelled ``oos``);
- ``smp2017_train.jsonl`` / ``smp2017_develop.jsonl``: SMP2017-ECDT task 1, split train / develop.

Nothing is copied into the repository: the data stays under its own licence in the data dir.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterable
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT_OUT = Path("/tmp/kefu-intent-data")


def write_jsonl(path: Path, rows: Iterable[tuple[str, str]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for text, label in rows:
            out.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
            count += 1
    print(f"{path}: {count} examples")
    return count


def banking77(data: Path, out: Path) -> None:
    folder = data / "banking77"
    for split in ("train", "test"):
        with (folder / f"{split}.csv").open(encoding="utf-8", newline="") as rows:
            pairs = [(row["text"], row["category"]) for row in csv.DictReader(rows)]
        write_jsonl(out / f"banking77_{split}.jsonl", pairs)
    texts = (folder / "train_10" / "seq.in").read_text(encoding="utf-8").splitlines()
    labels = (folder / "train_10" / "label").read_text(encoding="utf-8").splitlines()
    if len(texts) != len(labels):
        raise SystemExit(f"{folder / 'train_10'}: {len(texts)} texts but {len(labels)} labels")
    write_jsonl(
        out / "banking77_train10.jsonl",
        ((text, label.strip()) for text, label in zip(texts, labels, strict=True)),
    )


def clinc150(data: Path, out: Path) -> None:
    splits = json.loads((data / "clinc150" / "train_val.json").read_text(encoding="utf-8"))
    for name, parts in (("train", ("train", "oos_train")), ("val", ("val", "oos_val"))):
        pairs = [(text, label) for part in parts for text, label in splits[part]]
        write_jsonl(out / f"clinc150_{name}.jsonl", pairs)


def smp2017(data: Path, out: Path) -> None:
    path = data / "smp2017" / "train_develop.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for split in ("train", "develop"):
        pairs = [(row["text"], row["label"]) for row in rows if row["split"] == split]
        write_jsonl(out / f"smp2017_{split}.jsonl", pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data dir")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write JSONL")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    banking77(args.data, args.out)
    clinc150(args.data, args.out)
    smp2017(args.data, args.out)


if __name__ == "__main__":
    main()
