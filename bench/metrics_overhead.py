"""What metrics and JSON logs cost: the FAQ load benchmark against kefu with them on and off.

    .venv/bin/python bench/metrics_overhead.py [--slices 10] [--duration 4] [--json]

The realistic load of ``bench/faq_throughput.py`` (same bodies, the asyncio generator or wrk,
32 connections; see bench/README.md) against two ``kefu serve --demo`` of this checkout,
running at the same time on fresh data dirs:

* **off**: ``KEFU_METRICS=0`` (nothing recorded, no ``/metrics``), ``KEFU_LOG_FORMAT=plain``;
* **on**: ``KEFU_METRICS=1``, ``KEFU_LOG_FORMAT=json`` — the defaults of a server under a
  service manager; at the end its ``/metrics`` must have counted the turns and its log
  must be JSON.

The load goes to one server at a time in short slices that alternate (off, on, on, off …),
so a neighbour's burst on a shared machine hits both alike. Prints requests/s of both over
all slices and the ratio, PASS when the loss is at most 5 % (issue 16). Exit status: 0 pass,
1 over target, 2 could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
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
    env = {
        "KEFU_DEMO_API_KEY": faq.API_KEY,
        "KEFU_ADMIN_KEY": ADMIN_KEY,
        "KEFU_KEY_RATE_PER_S": "0",
    }
    env.update(MODES[mode])
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


def check_on(spec: faq.ServerSpec, server: faq.ManagedServer) -> float:
    """The "on" server counted its turns and logs JSON; returns the turns counted."""
    first = next(line for line in server.log_text().splitlines() if line.strip())
    json.loads(first)
    return counted_turns(spec)


def interleaved(
    load: faq.LoadConfig, bodies: list[str], tmp: Path, slices: int
) -> list[dict[str, float]]:
    """Both servers up at once; short load slices alternate between them (off, on, on, off,
    off, on …), so a neighbour's burst on a shared machine hits both alike."""
    specs = {mode: kefu_spec("127.0.0.1", tmp / f"data-{mode}", mode) for mode in MODES}
    with (
        faq.ManagedServer(specs["off"], tmp, None) as off,
        faq.ManagedServer(specs["on"], tmp, None) as on,
    ):
        servers = {"off": off, "on": on}
        for mode, server in servers.items():
            server.wait_ready()
            faq.precheck(specs[mode])
        pairs: list[dict[str, float]] = []
        for index in range(slices):
            order = ("off", "on") if index % 2 == 0 else ("on", "off")
            measured: dict[str, float] = {}
            for mode in order:
                result = faq.run_asyncio(specs[mode], bodies, load, tmp)
                if result.errors:
                    raise faq.BenchError(
                        f"{mode}: {result.non2xx} non-2xx, {result.socket_errors} socket errors"
                        f"\n{servers[mode].log_tail()}"
                    )
                measured[f"{mode}_rps"] = result.rps
                measured[f"{mode}_requests"] = result.ok_requests
                measured[f"{mode}_seconds"] = result.duration_s
            measured["ratio"] = measured["on_rps"] / measured["off_rps"]
            faq.err_console.print(
                f"  slice {index + 1}: off {measured['off_rps']:,.0f}, on "
                f"{measured['on_rps']:,.0f} req/s, on/off {measured['ratio']:.3f}"
            )
            pairs.append(measured)
        turns = check_on(specs["on"], on)
        faq.err_console.print(f"  /metrics of the on server counted {turns:,.0f} turns")
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=10, help="load slices per server")
    parser.add_argument("--duration", type=int, default=4, help="measured seconds per slice")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up seconds per slice")
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
        f"{load.duration_s} s per slice, {args.slices} slices per server (interleaved), "
        f"{len(os.sched_getaffinity(0))} CPUs"
    )
    try:
        with faq._workdir(keep=False) as tmp:
            rounds = interleaved(load, faq.build_bodies(), tmp, args.slices)
    except faq.BenchError as exc:
        faq.err_console.print(f"[red]could not run:[/] {exc}")
        return 2
    off_rps = sum(r["off_requests"] for r in rounds) / sum(r["off_seconds"] for r in rounds)
    on_rps = sum(r["on_requests"] for r in rounds) / sum(r["on_seconds"] for r in rounds)
    ratio = on_rps / off_rps
    summary = {
        "generator": generator,
        "slices": rounds,
        "off_rps": off_rps,
        "on_rps": on_rps,
        "ratio": ratio,
        "slice_ratio_median": statistics.median(r["ratio"] for r in rounds),
        "loss": 1 - ratio,
        "pass": 1 - ratio <= TARGET_LOSS,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"off {off_rps:,.0f} req/s, on {on_rps:,.0f} req/s over {len(rounds)} slices each: "
            f"on/off {ratio:.3f} ({(1 - ratio) * 100:+.1f} % loss; target ≤ "
            f"{TARGET_LOSS * 100:.0f} %; median slice ratio "
            f"{summary['slice_ratio_median']:.3f}) " + ("PASS" if summary["pass"] else "FAIL")
        )
    return 0 if summary["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
