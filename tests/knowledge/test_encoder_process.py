"""The query encoder in a forked process: the same vectors, and a child that ends (killed,
failing, at exit) never leaves a turn waiting or the server unable to stop."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from kefu.knowledge.embedders.encoder_process import (
    ENV_VAR,
    EncoderProcess,
    EncoderProcessError,
    process_wanted,
)
from kefu.knowledge.embedders.multilingual import UseEmbedder

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork"
)


def lengths(texts: Sequence[str]) -> np.ndarray:
    """A vector that names its text and the process that made it."""
    if any(text == "boom" for text in texts):
        raise ValueError("cannot encode boom")
    return np.array([[len(text), os.getpid()] for text in texts], dtype=np.float32)


@pytest.fixture
def process() -> Iterator[EncoderProcess]:
    encoder = EncoderProcess(lengths)
    yield encoder
    encoder.close()


def test_texts_are_encoded_in_a_child_process(process: EncoderProcess) -> None:
    vectors = process(["ab", "abcd"])
    assert vectors[:, 0].tolist() == [2, 4]
    assert process.pid is not None and process.pid != os.getpid()
    assert set(vectors[:, 1].tolist()) == {process.pid}
    assert process(["x"])[0, 1] == process.pid and process.starts == 1  # one child serves all


def test_the_child_shares_the_loaded_model_it_was_forked_with() -> None:
    loaded: list[int] = []
    encoder = EncoderProcess(lengths, prepare=lambda: loaded.append(os.getpid()))
    try:
        encoder(["a"])
        assert loaded == [os.getpid()]  # prepared here, before the fork
    finally:
        encoder.close()


def test_an_encoder_error_reaches_the_caller_and_the_child_keeps_serving(
    process: EncoderProcess,
) -> None:
    with pytest.raises(EncoderProcessError, match="ValueError: cannot encode boom"):
        process(["boom"])
    assert process(["abc"])[0, 0] == 3
    assert process.starts == 1


def test_a_killed_child_fails_its_batch_and_the_next_batch_starts_another(
    process: EncoderProcess,
) -> None:
    process(["a"])
    first = process.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    with pytest.raises(EncoderProcessError, match="ended"):
        process(["ab"])
    vectors = process(["abc"])
    assert vectors[0, 0] == 3 and process.starts == 2
    assert process.pid not in (None, first)


def test_close_ends_the_child(process: EncoderProcess) -> None:
    process(["a"])
    pid = process.pid
    assert pid is not None
    process.close()
    assert process.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: gone


def test_the_use_encoder_gives_the_same_vectors_from_its_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    questions = ["你好，退货运费谁出", "how long does shipping take", "優惠劵用不了是怎麼回事"]
    monkeypatch.setenv(ENV_VAR, "1")
    in_process = UseEmbedder()
    assert in_process.process is not None

    async def concurrently() -> np.ndarray:
        rows = await asyncio.gather(*(in_process.aembed([q]) for q in questions))
        return np.vstack(rows)

    try:
        vectors = asyncio.run(concurrently())
        assert in_process.process.pid is not None
    finally:
        in_process.process.close()
    monkeypatch.setenv(ENV_VAR, "0")
    on_thread = UseEmbedder()
    assert on_thread.process is None
    assert np.array_equal(vectors, on_thread.embed(questions))  # bit for bit
    # remembered in the server too: the turn's other stages do not encode again
    assert in_process._remembered(questions) is not None


@pytest.mark.parametrize(
    ("value", "wanted"), [("1", True), ("on", True), ("0", False), ("", False)]
)
def test_the_process_is_opt_in(monkeypatch: pytest.MonkeyPatch, value: str, wanted: bool) -> None:
    monkeypatch.setenv(ENV_VAR, value)
    assert process_wanted() is wanted
    monkeypatch.delenv(ENV_VAR)
    assert not process_wanted()  # off unless asked for: it costs memory (see the module)


def test_a_server_with_a_sigterm_handler_still_stops(tmp_path: object) -> None:
    """The child must not inherit the server's signal handling: uvicorn's SIGTERM handler
    only sets a flag, so multiprocessing's terminate-at-exit never ended the child and the
    server hung on exit."""
    script = textwrap.dedent(
        """
        import signal, sys
        from kefu.knowledge.embedders.encoder_process import EncoderProcess
        import numpy as np
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))  # as uvicorn does
        encoder = EncoderProcess(lambda texts: np.zeros((len(texts), 2), dtype=np.float32))
        encoder(["a"])
        print(encoder.pid, flush=True)
        sys.exit(0)  # no close(): multiprocessing's exit handler must end the child
        """
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    child = int(done.stdout.split()[0])
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def frozen(texts: Sequence[str]) -> np.ndarray:
    """How many objects the garbage collector leaves alone, as seen by the encoder."""
    return np.full((len(texts), 1), gc.get_freeze_count(), dtype=np.float32)


def test_the_child_leaves_the_servers_objects_to_the_permanent_generation() -> None:
    encoder = EncoderProcess(frozen)
    try:
        # a collection in the child would touch (and copy) every page the server's objects
        # are on; frozen, it never traverses them
        assert encoder(["a"])[0, 0] > 10_000
        assert gc.get_freeze_count() == 0  # the server itself is untouched
    finally:
        encoder.close()
