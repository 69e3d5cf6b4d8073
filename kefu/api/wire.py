"""kefu's typed results in the JSON shapes clients expect: Dify's and OpenAI's.

The engine and services return typed objects (sources, usage, agents); only the API knows
how Dify or OpenAI spell them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kefu.core.handoff_records import AgentRecord
from kefu.core.types import Source
from kefu.services.chat import TurnUsage

__all__ = ["agent_json", "dify_usage", "openai_usage", "retriever_resources"]


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
