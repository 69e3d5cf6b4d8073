"""A GGUF model in-process through llama-cpp-python (extra ``kefu[llamacpp]``).

For a laptop with no model server. Generation runs in a worker thread; pieces cross to
the event loop through a queue, and closing the stream stops generation at the next token.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from kefu.core.errors import ConfigError, ProviderError
from kefu.core.llm_config import ProviderConfig, SamplingConfig
from kefu.llm.base import ChatMessage, Completion, StreamChunk, Usage, collect

__all__ = ["LlamaCppChatModel"]

_DONE = object()


class LlamaCppChatModel:
    """``ChatModel`` over ``llama_cpp.Llama.create_chat_completion``."""

    def __init__(self, config: ProviderConfig) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:  # pragma: no cover - depends on the extra
            raise ConfigError(
                "the llamacpp provider needs llama-cpp-python: pip install 'kefu[llamacpp]'",
                key="llm.provider",
            ) from None
        path = config.model_path
        if path is None or not Path(path).is_file():
            raise ConfigError(f"no GGUF model file at {path}", key="llm.model_path")
        self.name = f"llamacpp:{Path(path).name}"
        self._llama: Any = Llama(  # its TypedDicts do not fit plain dicts; Any at the edge
            model_path=str(path), n_ctx=config.context_window, n_threads=2, verbose=False
        )
        self._lock = threading.Lock()  # one generation at a time per loaded model

    def close(self) -> None:
        """Free the model's memory now rather than at garbage collection."""
        self._llama.close()

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        sampling: SamplingConfig,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> Completion:
        """In-process GGUF models answer in text; ``tools`` are not offered to them."""
        return await collect(self.stream(messages, sampling), self.name)

    async def stream(
        self, messages: Sequence[ChatMessage], sampling: SamplingConfig
    ) -> AsyncIterator[StreamChunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()

        def generate() -> None:
            try:
                with self._lock:
                    prompt_tokens = completion_tokens = 0
                    for event in self._llama.create_chat_completion(
                        messages=[{"role": m.role, "content": m.content} for m in messages],
                        stream=True,
                        max_tokens=sampling.max_tokens,
                        temperature=sampling.temperature or 0.0,
                        top_p=sampling.top_p or 1.0,
                        repeat_penalty=sampling.repetition_penalty or 1.0,
                        stop=sampling.stop or None,
                    ):
                        if cancelled.is_set():
                            return
                        choice = event["choices"][0]
                        text: str = choice["delta"].get("content") or ""
                        completion_tokens += 1 if text else 0
                        chunk = StreamChunk(text=text, finish_reason=choice.get("finish_reason"))
                        loop.call_soon_threadsafe(queue.put_nowait, chunk)
                    prompt_tokens = len(self._llama.tokenize(_prompt_text(messages)))
                    usage = Usage(prompt_tokens, completion_tokens)
                    loop.call_soon_threadsafe(queue.put_nowait, StreamChunk(usage=usage))
            except Exception as exc:
                error = ProviderError(f"{self.name}: generation failed ({type(exc).__name__})")
                loop.call_soon_threadsafe(queue.put_nowait, error)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        worker = loop.run_in_executor(None, generate)
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, ProviderError):
                    raise item
                yield item
        finally:
            cancelled.set()
            await asyncio.shield(worker)


def _prompt_text(messages: Sequence[ChatMessage]) -> bytes:
    return "\n".join(m.content for m in messages).encode("utf-8")
