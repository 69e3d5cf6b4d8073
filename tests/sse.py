"""Parse a server-sent-events body into (event, data) pairs, exactly as a client would."""

from __future__ import annotations

import json
from typing import Any


def parse_sse(body: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data_lines = "message", []
        for line in block.split("\n"):
            if line.startswith(":"):
                name = "comment"
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data_lines.append(line[5:].strip())
        data = "\n".join(data_lines)
        try:
            events.append((name, json.loads(data) if data else None))
        except json.JSONDecodeError:
            events.append((name, data))
    return events
