"""The load benches' readings of a server's process tree: a child counts by the pages it
alone holds (a forked worker sharing the server's pages is not counted twice; what it
allocates is), and its descendants' CPU counts with the server's other threads."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/smaps_rollup").exists(), reason="reads Linux /proc"
)


@pytest.fixture(scope="module")
def faq_throughput() -> ModuleType:
    spec = importlib.util.spec_from_file_location("faq_throughput", BENCH / "faq_throughput.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def server_with_child(child_allocates: bool) -> subprocess.Popen[str]:
    """A process holding 64 MB, with one forked child that shares them and (if asked)
    allocates 64 MB of its own."""
    script = textwrap.dedent(
        f"""
        import os, sys, time
        held = bytearray(64 << 20)
        held[::4096] = b"x" * len(held[::4096])  # resident, written
        if os.fork() == 0:
            if {child_allocates}:
                own = bytearray(64 << 20)
                own[::4096] = b"y" * len(own[::4096])
            time.sleep(60)
            os._exit(0)
        time.sleep(1)
        print("ready", flush=True)
        sys.stdin.read()
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: both end together
    )


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for server in started:
        os.killpg(server.pid, signal.SIGKILL)  # the server and its child
        server.communicate()  # reaps it and closes its pipes


@pytest.mark.parametrize("child_allocates", [False, True])
def test_a_forked_child_counts_by_what_it_alone_holds(
    faq_throughput: ModuleType, servers: list[subprocess.Popen[str]], child_allocates: bool
) -> None:
    server = server_with_child(child_allocates)
    servers.append(server)
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    memory = faq_throughput.process_tree_memory(server.pid)
    own_rss = faq_throughput._status_kb(server.pid, "VmRSS") / 1024
    assert memory.processes == 2
    assert own_rss > 64
    if child_allocates:
        assert 64 <= memory.children_private_mb < 100
    else:
        assert memory.children_private_mb < 32  # its ~70 MB RSS is mostly the server's pages
    assert memory.rss_mb == pytest.approx(own_rss + memory.children_private_mb, abs=2)
    # the PSS total, each shared page split between the two, tells the same story
    assert memory.pss_mb == pytest.approx(memory.rss_mb, rel=0.15)


def test_its_descendants_cpu_counts_with_the_servers_other_threads(
    faq_throughput: ModuleType, servers: list[subprocess.Popen[str]]
) -> None:
    script = textwrap.dedent(
        """
        import os, sys, time
        if os.fork() == 0:  # a worker that starts one of its own, as pools do
            if os.fork() == 0:
                end = time.process_time() + 0.6
                while time.process_time() < end:  # 0.6 s of CPU in the grandchild, none here
                    pass
                print("spent", flush=True)
            time.sleep(60)
            os._exit(0)
        sys.stdin.read()
        """
    )
    server = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    servers.append(server)
    assert server.stdout is not None and server.stdout.readline().strip() == "spent"
    cpu = faq_throughput.process_cpu(server.pid)
    assert cpu is not None
    assert cpu.other_s >= 0.5  # the grandchild's, next to the server's other threads
    assert cpu.main_s < 0.3
