"""kefu's typed results in the JSON shapes clients expect: Dify's and OpenAI's.

The engine and services return typed objects (sources, usage, agents); only the API knows
how Dify or OpenAI spell them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kefu.core.handoff_records import AgentRecord
from kefu.core.types import Source
from kefu.services.chat import TurnUsage

__all__ = ["agent_json", "agent_thoughts", "dify_usage", "openai_usage", "retriever_resources"]

_THOUGHT_IDS = uuid.UUID("6b0f5f5e-3c1a-4c1e-9d6e-6b6566750001")  # namespace for uuid5


def dify_usage(usage: TurnUsage) -> dict[str, Any]:
    """Dify's usage object (extractive answers use no tokens; kefu does not price them)."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "prompt_unit_price": "0",
        "prompt_price_unit": "0",
        "prompt_price": "0",
        "completion_tokens": usage.completion_tokens,
        "completion_unit_price": "0",
        "completion_price_unit": "0",
        "completion_price": "0",
        "total_tokens": usage.total_tokens,
        "total_price": "0",
        "currency": "USD",
        "latency": round(usage.latency_s, 4),
    }


def openai_usage(usage: TurnUsage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def retriever_resources(sources: Sequence[Source]) -> list[dict[str, Any]]:
    """Dify's ``retriever_resources``: a source's fields, as they are stored."""
    return [source.to_dict() for source in sources]


def agent_json(agent: AgentRecord) -> dict[str, Any]:
    """An agent as the admin and agent APIs show them (customers see ``agent_ref``)."""
    return {
        "id": agent.id,
        "name": agent.name,
        "online": agent.online,
        "apps": agent.apps,
        "key_prefix": agent.key_prefix,
        "disabled": agent.disabled,
    }


def agent_thoughts(
    tool_calls: Sequence[Mapping[str, Any]], message_id: str
) -> list[dict[str, Any]]:
    """Dify's ``agent_thought`` fields for the tools a turn called (function calling or a
    flow's action), from the trace's entries: the tool, its arguments with PII masked, and
    its outcome. The tool's raw result is not shown: it may hold fields (internal ids,
    other systems' data) the business never meant for the customer's screen."""
    thoughts = []
    for position, call in enumerate(tool_calls, start=1):
        observation = {"outcome": call.get("outcome"), "status_code": call.get("status_code")}
        if call.get("error"):
            observation["error"] = call["error"]
        thoughts.append(
            {
                "id": str(uuid.uuid5(_THOUGHT_IDS, f"{message_id}/{position}")),
                "position": position,
                "thought": "",
                "observation": orjson.dumps(observation).decode(),
                "tool": call.get("tool", ""),
                "tool_input": orjson.dumps(call.get("arguments") or {}).decode(),
                "message_files": [],  # files a tool made; kefu's tools make none
            }
        )
    return thoughts
