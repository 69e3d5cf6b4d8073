"""Files customers send with a message: uploaded images, or links to images."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["FileRecord"]


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    app_id: str
    end_user_id: str
    transfer_method: str  # local_file | remote_url
    name: str
    size: int
    extension: str
    mime_type: str
    path: str | None  # local_file: relative to the data dir
    url: str | None  # remote_url: as the client gave it, never fetched
    message_id: str | None
    conversation_id: str | None
    created_at: datetime
