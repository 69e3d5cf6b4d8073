"""A small OpenAI-compatible model server for tests (uvicorn in a thread): ``/v1/models`` and
``/v1/chat/completions`` streaming a fixed answer in pieces, ``delay_s`` apart."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.servers import serving_in_thread

__all__ = ["SlowModel", "running_model"]


class SlowModel:
    """What the server answers: ``pieces`` of one reply, ``delay_s`` between them."""

    def __init__(self, pieces: tuple[str, ...], delay_s: float) -> None:
        self.pieces = pieces
        self.delay_s = delay_s
        self.models_delay_s = 0.0  # how long ``/v1/models`` takes to answer
        self.started = threading.Event()  # a streamed answer has begun
        self.app = Starlette(
            routes=[
                Route("/v1/models", self.models),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
            ]
        )

    async def models(self, _: Request) -> Response:
        await asyncio.sleep(self.models_delay_s)
        return JSONResponse({"object": "list", "data": [{"id": "slow", "object": "model"}]})

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        if not body.get("stream"):
            return JSONResponse({
                "id": "c", "object": "chat.completion", "created": 0, "model": "slow",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "".join(self.pieces)}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
            })  # fmt: skip
        return StreamingResponse(self._chunks(), media_type="text/event-stream")

    async def _chunks(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            chunk = {
                "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "slow",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }  # fmt: skip
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
            self.started.set()
            await asyncio.sleep(self.delay_s)
        done = {
            "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "slow",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }  # fmt: skip
        yield b"data: " + orjson.dumps(done) + b"\n\ndata: [DONE]\n\n"


def running_model(model: SlowModel) -> AbstractContextManager[str]:
    """Serve ``model`` on a free loopback port; yields its base URL (``…/v1``)."""
    return serving_in_thread(model.app, "/v1")
