"""What Redis shared state costs a turn: the same turns in process, then on a real Redis.

Each run builds the demo app's runtime (no model) and answers ``TURNS`` FAQ questions in
one conversation through the chat service (what the API calls: rate limit, turn lock, load,
stages, persist), alternating runs in memory and on Redis (``KEFU_REDIS_URL``) so drift hits
both alike. It reports the median turn time of each and, from Redis's own ``INFO
commandstats``, the commands one turn sends.

    python bench/shared_state_overhead.py --redis-url redis://127.0.0.1:6379/0
    python bench/shared_state_overhead.py   # starts redis-server itself (Debian package)
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from pydantic import SecretStr
from rich.progress import track

from kefu.core.settings import Settings
from kefu.services.chat import ChatRequest
from kefu.services.runtime import Runtime

TURNS = 200
QUESTIONS = ["订单多久发货", "怎么开发票", "退货要扣多少运费", "会员怎么升级"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def turns(runtime: Runtime, count: int) -> list[float]:
    app = runtime.apps.get("demo-shop")
    # One customer sends every turn: lift the per-user limit (each take still runs).
    security = app.config.security.model_copy(
        update={"user_rate_per_s": 100_000.0, "user_burst": 100_000}
    )
    app.config = app.config.model_copy(update={"security": security})
    chat = runtime.chat
    first = await chat.answer(await chat.prepare(ChatRequest(app=app, user="b", query="你好")))
    times = []
    for n in range(count):
        request = ChatRequest(
            app=app,
            user="b",
            query=QUESTIONS[n % len(QUESTIONS)],
            conversation_id=first.conversation_id,
        )
        started = time.perf_counter()
        await chat.answer(await chat.prepare(request))
        times.append(time.perf_counter() - started)
    await runtime.aclose_models()
    return times


def commands(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def run(data_dir: Path, redis_url: str | None, count: int) -> list[float]:
    settings = Settings(
        data_dir=data_dir,
        admin_key=SecretStr("admin-bench"),
        demo_api_key=SecretStr("app-bench"),
        redis_url=SecretStr(redis_url) if redis_url else None,
        train_in_subprocess=False,
    )
    runtime = Runtime.build(settings, [], demo=True)
    try:
        return asyncio.run(turns(runtime, count))
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        url = args.redis_url
        if url is None:
            binary = shutil.which("redis-server")
            assert binary, "redis-server is not installed (apt-get install redis-server)"
            port = free_port()
            server = subprocess.Popen(
                [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", tmp],
                stdout=subprocess.DEVNULL,
            )
            url = f"redis://127.0.0.1:{port}/0"
            time.sleep(0.3)
        client = redis.Redis.from_url(url)
        memory: list[float] = []
        shared: list[float] = []
        per_turn: dict[str, float] = {}
        try:
            for round_ in track(range(args.rounds), description="rounds"):
                memory += run(Path(tmp) / f"m{round_}", None, TURNS)
                before = commands(client)
                shared += run(Path(tmp) / f"r{round_}", url, TURNS)
                after = commands(client)
                for name, calls in after.items():
                    per_turn[name] = per_turn.get(name, 0) + (calls - before.get(name, 0))
        finally:
            client.close()
            if server is not None:
                server.terminate()
                server.wait()
    total_turns = args.rounds * (TURNS + 1)
    in_memory, on_redis = statistics.median(memory) * 1000, statistics.median(shared) * 1000
    print(f"median turn, in memory: {in_memory:.2f} ms")
    print(f"median turn, on Redis:  {on_redis:.2f} ms  (+{on_redis - in_memory:.2f} ms)")
    print("Redis commands per turn (the first rounds include the app's start-up):")
    for name, calls in sorted(per_turn.items(), key=lambda item: -item[1]):
        if calls:
            print(f"  {name:12} {calls / total_turns:.2f}")


if __name__ == "__main__":
    main()
