"""``GET /v1/parameters``, ``/v1/meta`` and ``/v1/info``: what a client needs to render the app."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from kefu.api.deps import ChatCaller, RuntimeDep
from kefu.api.responses import json_response
from kefu.services.chat_files import MAX_FILES_PER_MESSAGE

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["app"])


@router.get("/parameters")
async def parameters(caller: ChatCaller, runtime: RuntimeDep) -> Response:
    config = caller.app.config
    image_limit_mb = runtime.settings.max_image_bytes // 1_000_000
    opening = config.opening_statement.get(config.language) if config.opening_statement else ""
    return json_response(
        {
            "opening_statement": opening,
            "suggested_questions": config.suggested_questions,
            "suggested_questions_after_answer": {
                "enabled": config.suggested_questions_after_answer
            },
            "speech_to_text": {"enabled": False},
            "text_to_speech": {"enabled": False},
            "retriever_resource": {"enabled": True},
            "annotation_reply": {"enabled": False},
            "more_like_this": {"enabled": False},
            "user_input_form": [],
            "sensitive_word_avoidance": {"enabled": False},
            # Images only, kept for the agent (kefu.services.chat_files); a model is told.
            "file_upload": {
                "image": {
                    "enabled": True,
                    "number_limits": MAX_FILES_PER_MESSAGE,
                    "transfer_methods": ["local_file", "remote_url"],
                }
            },
            "system_parameters": {
                "file_size_limit": image_limit_mb,
                "image_file_size_limit": image_limit_mb,
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


@router.get("/site")
async def site(caller: ChatCaller) -> Response:
    """Dify's WebApp settings, from the app file (kefu has no separate web-app settings)."""
    config = caller.app.config
    return json_response(
        {
            "title": config.display_title(),
            "chat_color_theme": None,
            "chat_color_theme_inverted": False,
            "icon_type": None,
            "icon": None,
            "icon_background": None,
            "icon_url": None,
            "description": config.description,
            "copyright": None,
            "privacy_policy": None,
            "custom_disclaimer": "",
            "default_language": "zh-Hans" if config.language == "zh" else "en-US",
            "show_workflow_steps": False,
            "use_icon_as_answer_icon": False,
        }
    )
