"""The tool calls of answers, read from their traces (Dify's ``agent_thoughts`` in history)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.store.models import TraceRow

__all__ = ["tool_calls_of"]


def tool_calls_of(
    engine: Engine, app_id: str, message_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each message's tool-call trace entries (PII masked when traced); absent: none."""
    if not message_ids:
        return {}
    with Session(engine) as session:
        rows = session.execute(
            select(TraceRow.message_id, TraceRow.data).where(
                TraceRow.app_id == app_id, TraceRow.message_id.in_(list(message_ids))
            )
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for message_id, data in rows:
            calls = data.get("tool_calls") if isinstance(data, dict) else None
            if calls:
                found[message_id] = [c for c in calls if isinstance(c, dict)]
        return found
