"""What metrics and JSON logs cost: the FAQ load benchmark against kefu with them on and off.

    .venv/bin/python bench/metrics_overhead.py [--rounds 3] [--duration 10] [--json]

Runs the realistic load of ``bench/faq_throughput.py`` (same bodies, generator, connections
and warm-up; see bench/README.md) against ``kefu serve --demo`` twice per round, on fresh
data dirs, alternating which goes first:

* **off**: ``KEFU_METRICS=0`` (nothing recorded, no ``/metrics``), ``KEFU_LOG_FORMAT=plain``;
* **on**: ``KEFU_METRICS=1``, ``KEFU_LOG_FORMAT=json`` — the defaults of a server under a
  service manager — and ``/metrics`` scraped at the end to show the turns were counted.

Prints requests/s of both per round, the median ratio on/off, and PASS when the loss is at
most 5 % (issue 16). Exit status: 0 pass, 1 over target, 2 could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faq_throughput as faq

TARGET_LOSS = 0.05
ADMIN_KEY = "admin-bench-key"
MODES = {
    "off": {"KEFU_METRICS": "0", "KEFU_LOG_FORMAT": "plain"},
    "on": {"KEFU_METRICS": "1", "KEFU_LOG_FORMAT": "json"},
}


def kefu_spec(host: str, data_dir: Path, mode: str) -> faq.ServerSpec:
    """``kefu serve --demo`` of this checkout (``python -m`` from the repository root)."""
    port = faq.free_port(host)
    argv = [sys.executable, "-m", "kefu.cli.main", "serve", "--demo", "--host", host,
            "--port", str(port), "--data-dir", str(data_dir)]  # fmt: skip
    env = {"KEFU_DEMO_API_KEY": faq.API_KEY, "KEFU_ADMIN_KEY": ADMIN_KEY, **MODES[mode]}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return faq.ServerSpec(f"kefu-{mode}", argv, host, port, env, data_dir)


def counted_turns(spec: faq.ServerSpec) -> float:
    """The turns ``/metrics`` counted (the server must still run)."""
    response = httpx.get(
        spec.base_url + "/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
    )
    response.raise_for_status()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in response.text.splitlines()
        if line.startswith("kefu_turns_total{")
    )


def run_mode(
    mode: str, load: faq.LoadConfig, bodies: list[str], bodies_file: Path, tmp: Path
) -> tuple[float, float, float | None]:
    """One server, loaded: requests/s, P99 ms, and (on) the turns /metrics counted."""
    data_dir = tmp / f"data-{mode}"
    shutil.rmtree(data_dir, ignore_errors=True)
    spec = kefu_spec("127.0.0.1", data_dir, mode)
    with faq.ManagedServer(spec, tmp, None) as server:
        server.wait_ready()
        faq.precheck(spec)
        if load.generator == "wrk":
            result = faq.run_wrk(spec, bodies_file, load)
        else:
            result = faq.run_asyncio(spec, bodies, load, tmp)
        if result.errors:
            raise faq.BenchError(
                f"{spec.name}: {result.non2xx} non-2xx, {result.socket_errors} socket errors"
                f"\n{server.log_tail()}"
            )
        turns = counted_turns(spec) if mode == "on" else None
        if mode == "on":
            first = server.log_text().splitlines()[0]
            json.loads(first)  # the server's log lines are JSON
    faq.err_console.print(
        f"  {mode:>3}: {result.rps:8,.0f} req/s  P99 {result.p99_ms:5.1f} ms"
        + (f"  /metrics counted {turns:,.0f} turns" if turns is not None else "")
    )
    return result.rps, result.p99_ms, turns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--generator", choices=("auto", "wrk", "asyncio"), default="auto")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "asyncio"
    load = faq.LoadConfig(
        generator=generator,
        connections=args.connections,
        threads=2,
        warmup_s=args.warmup,
        duration_s=args.duration,
        timeout_s=faq.REQUEST_TIMEOUT_S,
        cpus=None,
    )
    faq.err_console.print(
        f"{generator}, {load.connections} connections, {load.warmup_s} s warm-up + "
        f"{load.duration_s} s per run, {args.rounds} rounds of off/on (order alternates), "
        f"{len(os.sched_getaffinity(0))} CPUs"
    )
    rounds: list[dict[str, float]] = []
    try:
        with faq._workdir(keep=False) as tmp:
            bodies = faq.build_bodies()
            bodies_file = tmp / "bodies.jsonl"
            bodies_file.write_text("\n".join(bodies) + "\n", encoding="utf-8")
            for index in range(args.rounds):
                faq.err_console.print(f"round {index + 1}")
                order = ("off", "on") if index % 2 == 0 else ("on", "off")
                measured: dict[str, float] = {}
                for mode in order:
                    rps, p99, _ = run_mode(mode, replace(load), bodies, bodies_file, tmp)
                    measured[f"{mode}_rps"], measured[f"{mode}_p99_ms"] = rps, p99
                measured["ratio"] = measured["on_rps"] / measured["off_rps"]
                rounds.append(measured)
    except faq.BenchError as exc:
        faq.err_console.print(f"[red]could not run:[/] {exc}")
        return 2
    ratio = statistics.median(r["ratio"] for r in rounds)
    summary = {
        "generator": generator,
        "rounds": rounds,
        "off_rps_median": statistics.median(r["off_rps"] for r in rounds),
        "on_rps_median": statistics.median(r["on_rps"] for r in rounds),
        "ratio_median": ratio,
        "loss": 1 - ratio,
        "pass": 1 - ratio <= TARGET_LOSS,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for index, r in enumerate(rounds, 1):
            print(
                f"round {index}: off {r['off_rps']:,.0f} req/s, on {r['on_rps']:,.0f} req/s, "
                f"on/off {r['ratio']:.3f}"
            )
        print(
            f"median: off {summary['off_rps_median']:,.0f} req/s, on "
            f"{summary['on_rps_median']:,.0f} req/s, on/off {ratio:.3f} "
            f"({(1 - ratio) * 100:+.1f} % loss; target ≤ {TARGET_LOSS * 100:.0f} %) "
            + ("PASS" if summary["pass"] else "FAIL")
        )
    return 0 if summary["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
