"""Run the four intent-classification benchmarks through ``kefu eval intent`` and check targets.

    python bench/intent_data.py            # once: converts the data sets to JSONL
    python bench/intent_eval.py            # default settings, as an app trains
    python bench/intent_eval.py --json     # one JSON object: every run's metrics
    python bench/intent_eval.py --only smp2017 --no-embeddings

Each run goes through the CLI command itself (``kefu eval intent --json``), in-process,
so what is measured is exactly what the command reports.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from kefu.cli.eval import eval_app

DEFAULT_DATA = Path("/tmp/kefu-intent-data")


@dataclass(frozen=True)
class Benchmark:
    name: str
    train: str
    test: str
    targets: dict[str, float]  # metric → minimum


BENCHMARKS = (
    Benchmark(
        "banking77", "banking77_train.jsonl", "banking77_test.jsonl", {"top1_accuracy": 0.937}
    ),
    Benchmark(
        "banking77-10shot",
        "banking77_train10.jsonl",
        "banking77_test.jsonl",
        {"top1_accuracy": 0.85},
    ),
    Benchmark(
        "clinc150",
        "clinc150_train.jsonl",
        "clinc150_val.jsonl",
        {"in_scope_accuracy": 0.95, "oos_recall": 0.65},  # issue 14
    ),
    Benchmark("smp2017", "smp2017_train.jsonl", "smp2017_develop.jsonl", {"top1_accuracy": 0.95}),
)
LATENCY_MS = 10.0
TRAIN_SECONDS_PER_15K = 120.0


def run(benchmark: Benchmark, data: Path, extra: list[str]) -> dict[str, Any]:
    args = ["intent", "--train", str(data / benchmark.train), "--test", str(data / benchmark.test)]
    result = CliRunner().invoke(eval_app, [*args, "--json", *extra])
    if result.exit_code != 0:
        sys.exit(f"{benchmark.name}: kefu eval intent failed:\n{result.output}")
    metrics: dict[str, Any] = json.loads(result.stdout)
    return metrics


def verdicts(benchmark: Benchmark, metrics: dict[str, Any]) -> list[str]:
    failed = [
        f"{key} {100 * metrics[key]:.2f}% < {100 * minimum:.1f}%"
        for key, minimum in benchmark.targets.items()
        if metrics[key] is None or metrics[key] < minimum
    ]
    if metrics["cpu_ms_per_query"] > LATENCY_MS:
        failed.append(f"{metrics['cpu_ms_per_query']:.1f} CPU ms/query > {LATENCY_MS:.0f}")
    budget = TRAIN_SECONDS_PER_15K * max(metrics["examples"], 1) / 15_000
    if metrics["examples"] >= 5000 and metrics["train_seconds"] > budget:
        failed.append(f"training {metrics['train_seconds']:.0f} s > {budget:.0f} s")
    return failed


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def lexical(metrics: dict[str, Any]) -> str:
    """The same run's words-only figures: top-1 (in-scope / oos recall when there is oos)."""
    words = metrics.get("lexical")
    if not words:
        return "—"
    if words["oos_recall"] is None:
        return percent(words["top1_accuracy"])
    return f"{percent(words['in_scope_accuracy'])} / {percent(words['oos_recall'])}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="bench/intent_data.py output"
    )
    parser.add_argument("--only", action="append", help="run only this benchmark (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args, extra = parser.parse_known_args()  # the rest goes to kefu eval intent as is
    results: dict[str, dict[str, Any]] = {}
    failures = 0
    rows = []
    for benchmark in BENCHMARKS:
        if args.only and benchmark.name not in args.only:
            continue
        print(f"running {benchmark.name} ...", file=sys.stderr, flush=True)
        metrics = run(benchmark, args.data, extra)
        failed = verdicts(benchmark, metrics)
        failures += bool(failed)
        results[benchmark.name] = {**metrics, "failed": failed}
        verdict = "PASS" if not failed else "FAIL: " + "; ".join(failed)
        rows.append(
            f"| {benchmark.name} | {percent(metrics['top1_accuracy'])} "
            f"| {percent(metrics['accuracy'])} | {percent(metrics['macro_f1'])} "
            f"| {percent(metrics['in_scope_accuracy'])} | {percent(metrics['oos_recall'])} "
            f"| {metrics['ms_per_query']:.1f} / {metrics['cpu_ms_per_query']:.1f} "
            f"| {metrics['train_seconds']:.1f} | {lexical(metrics)} | {verdict} |"
        )
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    else:
        print(
            "| data set | top-1 acc % | accuracy % | macro-F1 % | in-scope acc % | oos recall % "
            "| ms/query wall / CPU | train s | lexical only, same run % | verdict |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
