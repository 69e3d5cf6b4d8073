"""``GET /v1/parameters``, ``/v1/meta`` and ``/v1/info``: what a client needs to render the app."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from kefu.api.deps import ChatCaller
from kefu.api.responses import json_response

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["app"])


@router.get("/parameters")
async def parameters(caller: ChatCaller) -> Response:
    config = caller.app.config
    opening = config.opening_statement.get(config.language) if config.opening_statement else ""
    return json_response(
        {
            "opening_statement": opening,
            "suggested_questions": config.suggested_questions,
            "suggested_questions_after_answer": {"enabled": False},
            "speech_to_text": {"enabled": False},
            "text_to_speech": {"enabled": False},
            "retriever_resource": {"enabled": True},
            "annotation_reply": {"enabled": False},
            "more_like_this": {"enabled": False},
            "user_input_form": [],
            "sensitive_word_avoidance": {"enabled": False},
            "file_upload": {"image": {"enabled": False}},
            "system_parameters": {
                "file_size_limit": 0,
                "image_file_size_limit": 0,
                "audio_file_size_limit": 0,
                "video_file_size_limit": 0,
            },
        }
    )


@router.get("/meta")
async def meta(caller: ChatCaller) -> Response:
    return json_response({"tool_icons": {}})


@router.get("/info")
async def info(caller: ChatCaller) -> Response:
    config = caller.app.config
    return json_response(
        {
            "name": config.display_title(),
            "description": config.description,
            "tags": [],
            "mode": "chat",
            "author_name": "kefu",
        }
    )
