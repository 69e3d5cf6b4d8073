"""Any OpenAI-compatible chat server: vLLM, SGLang, TGI, Ollama, llama.cpp, DashScope,
DeepSeek, OpenAI. One adapter; the official SDK does the HTTP, retries and backoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import openai
from openai import AsyncOpenAI

from kefu.appfile.llm_config import ProviderConfig, SamplingConfig
from kefu.core.errors import (
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
)
from kefu.llm.base import ChatMessage, Completion, StreamChunk, ToolCall, Usage
from kefu.llm.profiles import profile_for

__all__ = ["OpenAIChatModel", "provider_error"]


def provider_error(exc: Exception, name: str) -> ProviderError:
    """The SDK's exceptions as kefu's provider errors (message without secrets)."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeout(f"{name}: the model server did not answer in time")
    if isinstance(exc, openai.RateLimitError):
        return ProviderRateLimited(f"{name}: the model server is rate limiting (429)")
    if isinstance(exc, openai.APIStatusError):
        return ProviderError(f"{name}: the model server answered {exc.status_code}")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(f"{name}: cannot reach the model server")
    return ProviderBadResponse(f"{name}: unexpected response ({type(exc).__name__})")


class OpenAIChatModel:
    """``ChatModel`` over ``/v1/chat/completions``.

    The SDK retries 429, 5xx and connection errors with exponential backoff
    (``retries`` times); ``timeout_s`` bounds each attempt.
    """

    def __init__(self, config: ProviderConfig, api_key: str | None) -> None:
        if not config.base_url:
            raise ValueError("the openai provider needs base_url")
        self.name = f"openai:{config.model or 'default'}@{config.base_url}"
        self._config = config
        self._profile = profile_for(config.model, config.profile)
        self._api_key = api_key or "not-needed"  # local servers accept anything
        self._clients: dict[int, AsyncOpenAI] = {}

    @property
    def _client(self) -> AsyncOpenAI:
        """One client per event loop: its connection pool belongs to the loop that made it
        (``kefu chat`` runs each turn in a fresh loop; the server has one)."""
        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None:
            if len(self._clients) > 8:  # loops that have ended; their pools are dead anyway
                self._clients.clear()
            client = self._clients[loop] = AsyncOpenAI(
                base_url=self._config.base_url,
                api_key=self._api_key,
                timeout=self._config.timeout_s,
                max_retries=self._config.retries,
            )
        return client

    def _request(self, messages: Sequence[ChatMessage], sampling: SamplingConfig) -> dict[str, Any]:
        extra_body: dict[str, Any] = dict(self._profile.request_extras(self._config.thinking))
        if sampling.repetition_penalty is not None:
            extra_body["repetition_penalty"] = sampling.repetition_penalty
        request: dict[str, Any] = {
            "model": self._config.model or "default",
            "messages": [_message(m) for m in messages],
            "max_tokens": sampling.max_tokens,
        }
        optional = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "presence_penalty": sampling.presence_penalty,
            "frequency_penalty": sampling.frequency_penalty,
            "stop": sampling.stop or None,
        }
        request.update({k: v for k, v in optional.items() if v is not None})
        if extra_body:
            request["extra_body"] = extra_body
        return request

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        sampling: SamplingConfig,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> Completion:
        request = self._request(messages, sampling)
        if tools:
            request["tools"] = list(tools)
        try:
            response = await self._client.chat.completions.create(**request, stream=False)
        except openai.OpenAIError as exc:
            raise provider_error(exc, self.name) from exc
        if not response.choices:
            raise ProviderBadResponse(f"{self.name}: the answer had no choices")
        choice = response.choices[0]
        usage = response.usage
        calls = tuple(
            ToolCall(call.id, call.function.name, call.function.arguments or "{}")
            for call in choice.message.tool_calls or ()
            if getattr(call, "function", None) is not None
        )
        return Completion(
            text=choice.message.content or "",
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            finish_reason=choice.finish_reason,
            model=response.model,
            tool_calls=calls,
        )

    async def stream(
        self, messages: Sequence[ChatMessage], sampling: SamplingConfig
    ) -> AsyncIterator[StreamChunk]:
        try:
            stream = await self._client.chat.completions.create(
                **self._request(messages, sampling),
                stream=True,
                stream_options={"include_usage": True},
            )
        except openai.OpenAIError as exc:
            raise provider_error(exc, self.name) from exc
        try:
            async for event in stream:
                usage = (
                    Usage(event.usage.prompt_tokens, event.usage.completion_tokens)
                    if event.usage
                    else None
                )
                if not event.choices:
                    if usage is not None:
                        yield StreamChunk(usage=usage)
                    continue
                choice = event.choices[0]
                yield StreamChunk(
                    text=choice.delta.content or "",
                    usage=usage,
                    finish_reason=choice.finish_reason,
                )
        except openai.OpenAIError as exc:
            raise provider_error(exc, self.name) from exc
        finally:
            await stream.close()  # closing the response cancels the upstream generation

    async def reachable(self, timeout_s: float) -> None:
        """Ask the server for its models (``GET /models``) once, without retries: raises
        :class:`ProviderError` when it cannot be reached, fails, or refuses the key. A server
        without that route (404) answered, so it is reachable."""
        client = self._client.with_options(timeout=timeout_s, max_retries=0)
        try:
            await client.models.list()
        except openai.NotFoundError:
            return
        except openai.OpenAIError as exc:
            raise provider_error(exc, self.name) from exc

    async def aclose(self) -> None:
        """Close this event loop's client (its pooled connections)."""
        client = self._clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.close()


def _message(message: ChatMessage) -> dict[str, Any]:
    """One message in the OpenAI wire format, function calls and their results included."""
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        data["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        data["tool_call_id"] = message.tool_call_id
    return data
