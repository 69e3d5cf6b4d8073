"""CPU per chat turn, in process: what one turn of the realistic load costs the event loop.

``realistic_load.py`` measures what a customer sees (requests/s, P99) over real sockets, and
on a shared 2-core machine its figures move by ±15 % from run to run. This script measures
the cost instead: the realistic load's messages (distinct, each from a new customer) go
through kefu's whole ASGI app in this process — middleware, routing, the turn, the answer —
``--concurrency`` at a time, driven by a minimal ASGI caller (no HTTP client, so nearly all
the CPU counted is kefu's). It prints:

* **main-thread CPU per turn** (``time.thread_time`` of the event loop's thread): the work
  that holds the GIL one turn after another and so bounds a process's turns per second;
* **process CPU per turn** (adds the query encoder's and the turn writer's threads);
* with ``--profile N``, the N functions with the most own time on the event loop (cProfile;
  its overhead inflates the totals, so compare profiles with profiles).

``--decisions FILE`` writes each message's answer and sources (run it with
``--concurrency 1``: with several turns at once the semantic cache fills in a different
order) so two versions of the code can be checked to decide alike: ``diff`` the files.

    .venv/bin/python bench/turn_cpu.py [--turns 2000] [--concurrency 32] [--profile 30]
    .venv/bin/python bench/turn_cpu.py --turns 1500 --concurrency 1 --decisions /tmp/a.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.console import Console
from rich.progress import Progress
from threadpoolctl import threadpool_limits

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import realistic_load as rl  # noqa: E402  (the sibling script, imported as a module)

from kefu.api.app import create_app  # noqa: E402
from kefu.core.settings import Settings  # noqa: E402
from kefu.services.runtime import Runtime  # noqa: E402

API_KEY, CHAT_PATH = rl.ft.API_KEY, rl.ft.CHAT_PATH  # the keys and route the load benches use
err = Console(stderr=True)
WARMUP = 300


async def _post(app: Any, body: bytes) -> tuple[int, bytes]:
    """One chat message (``POST CHAT_PATH``) through the ASGI app; the status and the body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": CHAT_PATH,
        "raw_path": CHAT_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"kefu.test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {API_KEY}".encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # never: the app reads the body once
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def _decision(text: str, answer: dict[str, Any]) -> dict[str, Any]:
    """What a turn decided, without its ids and timings."""
    resources = answer.get("metadata", {}).get("retriever_resources", [])
    return {
        "query": text,
        "answer": answer.get("answer"),
        "sources": [(r.get("document_name"), r.get("content", "")[:60]) for r in resources],
    }


def _write_decisions(path: Path, decisions: list[dict[str, Any]]) -> None:
    path.write_text(
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in decisions), encoding="utf-8"
    )


async def _run(args: argparse.Namespace, app: Any, runtime: Runtime) -> int:
    messages, _ = rl.build_messages(WARMUP + args.turns)
    bodies = [b.encode() for b in rl.build_bodies(messages)]
    decisions: list[dict[str, Any]] = []
    failures = 0

    async def drive(indexes: Sequence[int], keep: bool, progress: Any, task: Any) -> None:
        nonlocal failures
        for i in indexes:
            status, raw = await _post(app, bodies[i])
            if status != 200:
                failures += 1
            elif keep and args.decisions:
                decisions.append(_decision(messages[i], json.loads(raw)))
            progress.advance(task)

    async def phase(indexes: range, keep: bool, label: str, progress: Any) -> None:
        task = progress.add_task(label, total=len(indexes))
        lanes = max(1, args.concurrency)
        await asyncio.gather(
            *(drive(indexes[lane::lanes], keep, progress, task) for lane in range(lanes))
        )

    with Progress(transient=True) as progress:
        await phase(range(WARMUP), False, "warm-up", progress)
    # No live display while measuring: it redraws from its own thread ten times a second,
    # and after gc.freeze() that tripled the event loop's CPU figure here (7.7 ms a turn
    # against 2.5 ms without it, in the garbage collector). The run takes ~15 s.
    err.print(f"measuring {args.turns} turns ...")
    with Progress(disable=True) as progress:
        profile = cProfile.Profile() if args.profile else None
        thread0, process0, wall0 = time.thread_time(), time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        await phase(range(WARMUP, WARMUP + args.turns), True, "turns", progress)
        if profile is not None:
            profile.disable()
        thread_s = time.thread_time() - thread0
        process_s = time.process_time() - process0
        wall_s = time.perf_counter() - wall0
    turns = args.turns
    result = {
        "turns": turns,
        "concurrency": args.concurrency,
        "failures": failures,
        "main_thread_cpu_ms_per_turn": round(thread_s / turns * 1000, 3),
        "process_cpu_ms_per_turn": round(process_s / turns * 1000, 3),
        "wall_ms_per_turn": round(wall_s / turns * 1000, 3),
        "profiled": bool(profile),
    }
    if args.decisions:
        _write_decisions(Path(args.decisions), decisions)
    if profile is not None:
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(args.profile)
    print(json.dumps(result))
    return 1 if failures else 0


def demo_runtime(data_dir: Path) -> Runtime:
    """The demo app as ``kefu serve --demo`` runs it, keyed with the load benches' key and
    without the per-key rate limit (one key at full speed), its data in ``data_dir``."""
    settings = Settings(
        data_dir=data_dir,
        demo_api_key=SecretStr(API_KEY),
        admin_key=SecretStr("admin-bench-key"),
        key_rate_per_s=0,
    )
    return Runtime.build(settings, [], demo=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--profile", type=int, default=0, help="print the top N by own time")
    parser.add_argument("--decisions", default=None, help="write each turn's decision here")
    parser.add_argument(
        "--no-freeze", action="store_true", help="skip gc.freeze() (kefu serve does it)"
    )
    args = parser.parse_args(argv)
    threadpool_limits(1)  # as ``kefu serve`` sets it
    with tempfile.TemporaryDirectory() as tmp:
        runtime = demo_runtime(Path(tmp))
        app = create_app(runtime, close_runtime=False)
        if not args.no_freeze:
            gc.freeze()  # as ``kefu serve`` does after start-up, before the event loop
        try:
            return asyncio.run(_run(args, app, runtime))
        finally:
            runtime.close()


if __name__ == "__main__":
    sys.exit(main())
