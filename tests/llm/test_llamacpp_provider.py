"""``provider: llamacpp``: kefu serves a GGUF file itself, with llama.cpp's own server
(``xllamacpp``) in a child process, so a crash in native code never takes kefu down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kefu.appfile.llm_config import LLMConfig, ProviderConfig, SamplingConfig
from kefu.core.errors import ConfigError, ProviderError
from kefu.llm.base import ChatMessage
from kefu.llm.factory import build_chat_model
from kefu.llm.fallback import FallbackChain
from kefu.llm.llamacpp import LlamaCppChatModel
from tests.llm.conftest import smollm2_file

pytestmark = pytest.mark.integration
HELLO = [ChatMessage("user", "Say hello.")]
STORY = [ChatMessage("user", "Tell me a long story about a cat.")]


def smollm2(**update: object) -> ProviderConfig:
    config = ProviderConfig(
        provider="llamacpp", model_path=smollm2_file(), context_window=2048, threads=2
    )
    return config.model_copy(update=update)


def gone(pid: int) -> bool:
    """The process has ended (a zombie no one reaps counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


async def test_llamacpp_provider_answers_and_stops_its_server() -> None:
    chain = build_chat_model(LLMConfig(**smollm2().model_dump()))
    assert isinstance(chain, FallbackChain)
    model = chain.models[0]
    assert isinstance(model, LlamaCppChatModel)
    assert model.name == "llamacpp:SmolLM2-135M-Instruct.Q4_1.gguf"
    server = model.server
    assert server is not None and server.process.pid != os.getpid()

    sampling = SamplingConfig(temperature=0.0, max_tokens=16)
    completion = await chain.complete(HELLO, sampling)
    assert completion.text.strip()
    assert completion.usage.prompt_tokens > 0 and 0 < completion.usage.completion_tokens <= 16
    pieces = [chunk.text async for chunk in chain.stream(HELLO, sampling) if chunk.text]
    assert len(pieces) > 1 and "".join(pieces).strip()

    await chain.aclose()
    assert model.server is None
    assert server.exit_code == 0, "the server stopped cleanly on SIGTERM"


async def test_a_crashed_server_fails_that_request_and_the_next_one_starts_it_again() -> None:
    model = LlamaCppChatModel(smollm2(model="smollm2"))
    try:
        first = model.server
        assert first is not None
        sampling = SamplingConfig(temperature=0.0, max_tokens=400)
        received = 0
        with pytest.raises(ProviderError) as caught:
            async for chunk in model.stream(STORY, sampling):
                received += bool(chunk.text)
                if received == 2:
                    os.kill(first.process.pid, signal.SIGKILL)  # as a segfault would end it
        assert caught.value.message == (
            "llamacpp:SmolLM2-135M-Instruct.Q4_1.gguf: the llama.cpp server exited with code -9"
        )
        completion = await model.complete(HELLO, SamplingConfig(temperature=0.0, max_tokens=8))
        assert completion.text.strip() and completion.model == "smollm2"
        assert model.server is not None and model.server.process.pid != first.process.pid
    finally:
        await model.aclose()


def test_a_file_llama_cpp_cannot_load_is_a_config_error(tmp_path: Path) -> None:
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_bytes(b"<html>404 Not Found</html>" * 40)  # a failed download
    with pytest.raises(ConfigError) as caught:
        build_chat_model(LLMConfig(provider="llamacpp", model_path=not_gguf))
    assert caught.value.key == "llm.model_path"
    assert caught.value.message.startswith("llm.model_path: llama.cpp server for model.gguf")
    assert "invalid magic characters" in caught.value.message


def test_the_server_stops_when_the_process_that_started_it_is_killed() -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from kefu.llm.llamacpp_server import LlamaCppServer\n"
        "server = LlamaCppServer(Path(sys.argv[1]), alias='smollm2', ctx=512, threads=1)\n"
        "print(server.process.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    command = [sys.executable, "-c", script, str(smollm2_file())]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as parent:
        try:
            assert parent.stdout is not None
            server_pid = int(parent.stdout.readline())
            assert not gone(server_pid)
        finally:
            parent.kill()  # no clean-up code of it runs
    deadline = time.monotonic() + 15
    while not gone(server_pid):
        assert time.monotonic() < deadline, "the orphaned llama.cpp server kept running"
        time.sleep(0.1)
