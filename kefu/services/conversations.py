"""Conversation-facing operations of the service API, scoped to (app, end user)."""

from __future__ import annotations

from typing import Literal

from anyio import to_thread

from kefu.core.errors import NotFound
from kefu.core.ids import end_user_id, is_id
from kefu.core.records import ConversationRecord, MessageRecord, TraceRecord
from kefu.engine.app import AppRuntime
from kefu.safety import clean_text
from kefu.services.chat import CONVERSATION_NAME_CHARS
from kefu.services.validation import clean_name, clean_user
from kefu.store import Store
from kefu.store.conversations import SortBy

__all__ = ["ConversationService", "SortBy"]

Rating = Literal["like", "dislike"] | None
MAX_NAME_CHARS = 255


class ConversationService:
    """List, rename and delete conversations; read history; rate answers; read traces."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def list_page(
        self, app: AppRuntime, user: str, *, last_id: str | None, limit: int, sort_by: SortBy
    ) -> tuple[list[ConversationRecord], bool]:
        uid = end_user_id(app.id, clean_user(user))
        if last_id is not None and not is_id(last_id):
            return [], False
        return await to_thread.run_sync(
            lambda: self._store.conversations.list_page(
                app.id, uid, last_id=last_id, limit=limit, sort_by=sort_by
            )
        )

    async def rename(
        self, app: AppRuntime, user: str, conversation_id: str, name: str | None, auto: bool
    ) -> ConversationRecord:
        uid = end_user_id(app.id, clean_user(user))
        if not is_id(conversation_id):
            raise NotFound("Conversation Not Exists.")
        if auto:
            first = await to_thread.run_sync(
                self._store.conversations.first_query, app.id, uid, conversation_id
            )
            name = first[:CONVERSATION_NAME_CHARS] if first else None
        else:
            name = clean_name(
                name,
                "name",
                MAX_NAME_CHARS,
                missing="name is required unless auto_generate is true",
            )
        renamed = await to_thread.run_sync(
            self._store.conversations.rename, app.id, uid, conversation_id, name or ""
        )
        if renamed is None:
            raise NotFound("Conversation Not Exists.")
        return renamed

    async def delete(self, app: AppRuntime, user: str, conversation_id: str) -> None:
        uid = end_user_id(app.id, clean_user(user))
        if not is_id(conversation_id):
            raise NotFound("Conversation Not Exists.")
        deleted = await to_thread.run_sync(
            self._store.conversations.delete, app.id, uid, conversation_id
        )
        if not deleted:
            raise NotFound("Conversation Not Exists.")

    async def messages(
        self,
        app: AppRuntime,
        user: str,
        conversation_id: str,
        *,
        first_id: str | None,
        limit: int,
    ) -> tuple[list[MessageRecord], bool]:
        uid = end_user_id(app.id, clean_user(user))
        if not is_id(conversation_id):
            raise NotFound("Conversation Not Exists.")
        if first_id is not None and not is_id(first_id):
            return [], False
        conversation = await to_thread.run_sync(
            self._store.conversations.get, app.id, uid, conversation_id
        )
        if conversation is None:
            raise NotFound("Conversation Not Exists.")
        return await to_thread.run_sync(
            lambda: self._store.conversations.messages(
                app.id, uid, conversation_id, first_id=first_id, limit=limit
            )
        )

    async def feedback(
        self, app: AppRuntime, user: str, message_id: str, rating: Rating, content: str | None
    ) -> None:
        uid = end_user_id(app.id, clean_user(user))
        if not is_id(message_id):
            raise NotFound("Message Not Exists.")
        content = clean_text(content) if content else None
        found = await to_thread.run_sync(
            self._store.conversations.set_feedback, app.id, uid, message_id, rating, content
        )
        if not found:
            raise NotFound("Message Not Exists.")

    async def trace(self, message_id: str) -> TraceRecord:
        """For operators (admin API): the full trace of any message."""
        if not is_id(message_id):
            raise NotFound("Message Not Exists.")
        trace = await to_thread.run_sync(self._store.conversations.get_trace, message_id)
        if trace is None:
            raise NotFound("Message Not Exists.")
        return trace
