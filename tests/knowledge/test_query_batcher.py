"""Concurrent turns' queries share encoder calls, and each gets its own vector back."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from kefu.knowledge.embedders.batching import QueryBatcher
from kefu.knowledge.embedders.multilingual import UseEmbedder


class SlowEncoder:
    """Vectors that name their text (its length, then 1), slowly, recording each call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        self.started.set()
        self.release.wait(5)
        return np.array([[len(text), 1.0] for text in texts], dtype=np.float32)


async def test_queries_waiting_together_are_encoded_together() -> None:
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder, max_batch=8)
    first = asyncio.create_task(batcher.aembed(["a"]))
    # The first query is being encoded; the others queue behind it.
    assert await asyncio.to_thread(encoder.started.wait, 5)
    lengths = [2, 2, *range(3, 12)]  # "xx" twice in one batch: encoded once
    rest = [asyncio.create_task(batcher.aembed(["x" * n])) for n in lengths]
    await asyncio.sleep(0.05)
    encoder.release.set()
    assert (await first).tolist() == [[1.0, 1.0]]
    vectors = await asyncio.gather(*rest)
    assert [v[0][0] for v in vectors] == lengths  # each its own row
    assert encoder.calls[0] == ["a"]
    assert [len(call) for call in encoder.calls[1:]] == [7, 3]  # 8 a batch, 7 of them distinct
    assert batcher.batches == 3 and batcher.encoded == 11


async def test_an_encoder_error_reaches_every_waiting_turn() -> None:
    def broken(texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("model file damaged")

    batcher = QueryBatcher(broken)
    with pytest.raises(RuntimeError, match="model file damaged"):
        await batcher.aembed(["退货运费多少"])
    with pytest.raises(RuntimeError, match="model file damaged"):  # the thread lives on
        await batcher.aembed(["again"])


class CountingModel:
    """USE's ``encode`` as a fake: a vector per text, counting the texts it encodes."""

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded.extend(texts)
        return np.array([[len(text), 1.0, *([0.0] * 510)] for text in texts], dtype=np.float32)


async def test_a_question_embedded_by_one_stage_is_not_encoded_again() -> None:
    embedder = UseEmbedder()
    model = embedder._model = CountingModel()
    first = embedder.embed(["退货运费多少"])  # the intent classifier, say
    again = await embedder.aembed(["退货运费多少"])  # then retrieval
    assert np.array_equal(first, again) and model.encoded == ["退货运费多少"]
    embedder.embed([f"form {n}" for n in range(100)])  # an index build: not remembered
    assert embedder.embed(["form 1"]).shape == (1, 512)
    assert model.encoded.count("form 1") == 2


async def test_a_batch_wakes_the_event_loop_once_and_each_turn_gets_its_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder, max_batch=16)
    loop = asyncio.get_running_loop()
    wakeups: list[object] = []
    call_soon_threadsafe = loop.call_soon_threadsafe

    def counting(callback: object, *args: object) -> object:
        wakeups.append(callback)
        return call_soon_threadsafe(callback, *args)  # type: ignore[arg-type]

    first = asyncio.create_task(batcher.aembed(["a"]))
    assert await asyncio.to_thread(encoder.started.wait, 5)
    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
    texts = ["x" * n for n in range(2, 12)]
    turns = [asyncio.create_task(batcher.aembed([text])) for text in texts]
    gave_up = asyncio.create_task(batcher.aembed(["z" * 30]))
    await asyncio.sleep(0.05)
    gave_up.cancel()  # its deadline passed: the others are not disturbed
    encoder.release.set()
    await first
    vectors = await asyncio.gather(*turns)
    assert [v[0][0] for v in vectors] == [len(text) for text in texts]
    # each its own array: a view would keep the whole batch alive while a vector is kept
    assert all(v.flags.owndata for v in vectors)
    assert gave_up.cancelled()
    # the cancelled turn's text is not encoded
    assert sorted(encoder.calls[1]) == sorted(texts)
    assert len(wakeups) == 2  # one per batch, not one per turn


async def test_turns_on_two_event_loops_share_a_batch() -> None:
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder, max_batch=16)
    first = asyncio.create_task(batcher.aembed(["a"]))
    assert await asyncio.to_thread(encoder.started.wait, 5)

    def other_loop() -> list[float]:
        async def turns() -> list[float]:
            rows = await asyncio.gather(batcher.aembed(["bb"]), batcher.aembed(["ccc"]))
            return [row[0][0] for row in rows]

        return asyncio.run(turns())

    elsewhere = asyncio.create_task(asyncio.to_thread(other_loop))
    here = asyncio.create_task(batcher.aembed(["dddd", "ee"]))
    await asyncio.sleep(0.1)
    encoder.release.set()
    await first
    assert (await here)[:, 0].tolist() == [4, 2]
    assert await elsewhere == [2, 3]
    # the second batch holds both loops' texts
    assert batcher.batches == 2 and sorted(encoder.calls[1]) == ["bb", "ccc", "dddd", "ee"]
