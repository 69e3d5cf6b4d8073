"""A GGUF file with no model server to run: kefu runs llama.cpp's own server for it.

``provider: llamacpp`` with ``model_path:`` (extra ``kefu[llamacpp]``, the ``xllamacpp``
wheel). The server is a child process (:mod:`kefu.llm.llamacpp_server`) on a loopback port,
spoken to through the same OpenAI-compatible adapter as any other server. A crash in native
code ends the child, never kefu: that request fails over like any provider error, and the
next one starts the server again. For trying kefu on a laptop, not for production.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from kefu.appfile.llm_config import ProviderConfig, SamplingConfig
from kefu.core.errors import ConfigError, ProviderError
from kefu.llm.base import ChatMessage, Completion, StreamChunk
from kefu.llm.llamacpp_server import LlamaCppServer, require_xllamacpp
from kefu.llm.openai_compat import OpenAIChatModel

__all__ = ["LlamaCppChatModel"]


class LlamaCppChatModel:
    """``ChatModel`` over a llama.cpp server this object starts and stops.

    The server starts with the model, so a file llama.cpp cannot load is a
    :class:`ConfigError` at start-up. ``aclose``/``close`` stop it; a later request
    starts it again (as after a crash).
    """

    def __init__(self, config: ProviderConfig, where: str = "llm") -> None:
        require_xllamacpp(key=f"{where}.provider")
        path = config.model_path
        if path is None or not Path(path).is_file():
            raise ConfigError(f"no GGUF model file at {path}", key=f"{where}.model_path")
        self.name = f"llamacpp:{Path(path).name}"
        self._config = config
        self._path = Path(path)
        self._alias = config.model or self._path.stem  # the name a Qwen3 profile is found by
        self._lock = threading.Lock()  # start and stop: requests may come from several loops
        self._server: LlamaCppServer | None = None
        self._chat: OpenAIChatModel | None = None
        try:
            self._start()
        except ProviderError as exc:
            raise ConfigError(exc.message, key=f"{where}.model_path") from None

    @property
    def server(self) -> LlamaCppServer | None:
        """The server process (its URL, pid, exit code); ``None`` once stopped."""
        return self._server

    def _start(self) -> OpenAIChatModel:
        with self._lock:
            if self._server is not None and self._server.running and self._chat is not None:
                return self._chat
            if self._server is not None:
                self._server.stop()
            self._server = LlamaCppServer(
                self._path,
                alias=self._alias,
                ctx=self._config.context_window,
                threads=self._config.threads,
            )
            url = self._server.base_url
            endpoint = {"provider": "openai", "base_url": url, "model": self._alias}
            self._chat = OpenAIChatModel(self._config.model_copy(update=endpoint), None)
            return self._chat

    async def _running_chat(self) -> OpenAIChatModel:
        """The adapter for a live server, starting one (in a thread) if it is not running."""
        server, chat = self._server, self._chat
        if server is not None and server.running and chat is not None:
            return chat
        if chat is not None:
            self._chat = None
            await chat.aclose()  # this loop's connections to the server that is gone
        return await asyncio.to_thread(self._start)

    async def _explained(self, error: ProviderError) -> ProviderError:
        """The error, or — when the server has died — why (its exit code, llama.cpp's error)."""
        server = self._server
        for _ in range(10):  # a connection breaks a moment before its process is gone
            if server is None or not server.running:
                break
            await asyncio.sleep(0.02)
        if server is None or server.running:
            return error
        cause = server.first_error()
        return ProviderError(
            f"{self.name}: the llama.cpp server exited with code {server.exit_code}"
            + (f": {cause}" if cause else "")
        )

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        sampling: SamplingConfig,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> Completion:
        chat = await self._running_chat()
        try:
            return await chat.complete(messages, sampling, tools)
        except ProviderError as exc:
            raise await self._explained(exc) from exc

    async def stream(
        self, messages: Sequence[ChatMessage], sampling: SamplingConfig
    ) -> AsyncIterator[StreamChunk]:
        chat = await self._running_chat()
        chunks = chat.stream(messages, sampling)
        try:
            async for chunk in chunks:
                yield chunk
        except ProviderError as exc:
            raise await self._explained(exc) from exc
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:  # closing the HTTP stream stops generation in the server
                await aclose()

    async def aclose(self) -> None:
        """Close this event loop's connections and stop the server."""
        chat, self._chat = self._chat, None
        if chat is not None:
            await chat.aclose()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Stop the server and free the model's memory now."""
        with self._lock:
            server, self._server = self._server, None
            self._chat = None
            if server is not None:
                server.stop()
