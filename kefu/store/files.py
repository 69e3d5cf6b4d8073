"""Files customers send: uploads waiting for a message, and the files each message carries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from kefu.core.file_records import FileRecord
from kefu.store.db import as_utc
from kefu.store.models import FileRow

__all__ = ["FileRepository"]


def _record(row: FileRow) -> FileRecord:
    return FileRecord(
        id=row.id,
        app_id=row.app_id,
        end_user_id=row.end_user_id,
        transfer_method=row.transfer_method,
        name=row.name,
        size=row.size,
        extension=row.extension,
        mime_type=row.mime_type,
        path=row.path,
        url=row.url,
        message_id=row.message_id,
        conversation_id=row.conversation_id,
        created_at=as_utc(row.created_at),
    )


class FileRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, file: FileRecord) -> None:
        with Session(self._engine) as session, session.begin():
            session.add(
                FileRow(
                    id=file.id,
                    app_id=file.app_id,
                    end_user_id=file.end_user_id,
                    transfer_method=file.transfer_method,
                    name=file.name,
                    size=file.size,
                    extension=file.extension,
                    mime_type=file.mime_type,
                    path=file.path,
                    url=file.url,
                    message_id=file.message_id,
                    conversation_id=file.conversation_id,
                    created_at=file.created_at,
                )
            )

    def get(self, file_id: str) -> FileRecord | None:
        with Session(self._engine) as session:
            row = session.get(FileRow, file_id)
            return _record(row) if row else None

    def attach(self, file_ids: Sequence[str], message_id: str, conversation_id: str) -> None:
        """The message that carries these files (uploads not yet sent with a message)."""
        if not file_ids:
            return
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(FileRow)
                .where(FileRow.id.in_(list(file_ids)))
                .values(message_id=message_id, conversation_id=conversation_id)
            )

    def purge_before(self, app_id: str, cutoff: datetime) -> list[str]:
        """Forget an app's files older than ``cutoff``; the stored ones' paths, to delete."""
        with Session(self._engine) as session, session.begin():
            old = (FileRow.app_id == app_id, FileRow.created_at < cutoff)
            paths = list(session.scalars(select(FileRow.path).where(*old)))
            session.execute(delete(FileRow).where(*old))
            return [path for path in paths if path]

    def for_messages(self, message_ids: Sequence[str]) -> dict[str, list[FileRecord]]:
        """The files of each message (messages without files are absent), oldest first."""
        if not message_ids:
            return {}
        with Session(self._engine) as session:
            rows = session.scalars(
                select(FileRow)
                .where(FileRow.message_id.in_(list(message_ids)))
                .order_by(FileRow.created_at, FileRow.id)
            )
            found: dict[str, list[FileRecord]] = {}
            for row in rows:
                found.setdefault(row.message_id or "", []).append(_record(row))
            return found
