"""Images customers send: ``/v1/files/upload`` and the ``files`` of a chat message.

Only images (PNG, JPEG, GIF, WebP), recognised by their first bytes, not their name; stored
under ``<data dir>/uploads/<app id>/``. A ``remote_url`` file is kept as a link and never
fetched (kefu makes no request a customer can point somewhere). A file belongs to the user
who uploaded it: another user's id is refused as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from anyio import to_thread

from kefu.core.errors import InvalidParam, NotFound, RequestError, TooLarge
from kefu.core.file_records import FileRecord
from kefu.core.ids import end_user_id, is_id, new_id, utcnow
from kefu.engine.app import AppRuntime
from kefu.services.validation import clean_user
from kefu.store import Store

__all__ = ["ChatFiles", "ImageKind", "UnsupportedFile", "image_kind", "purge_files_before"]

MAX_FILES_PER_MESSAGE = 10
MAX_NAME_CHARS = 200
MAX_URL_CHARS = 2048


class UnsupportedFile(RequestError):
    """Not an image kefu takes (the API answers 415)."""

    code = "unsupported_file_type"


@dataclass(frozen=True, slots=True)
class ImageKind:
    extension: str
    mime_type: str


def image_kind(content: bytes) -> ImageKind | None:
    """The image format from its signature, or None. Written by hand: four fixed signatures
    (PNG, JPEG, GIF, RIFF/WEBP) do not justify a dependency, and a decoder is not needed
    since kefu never renders or resizes the image."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageKind("png", "image/png")
    if content.startswith(b"\xff\xd8\xff"):
        return ImageKind("jpg", "image/jpeg")
    if content.startswith((b"GIF87a", b"GIF89a")):
        return ImageKind("gif", "image/gif")
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return ImageKind("webp", "image/webp")
    return None


class ChatFiles:
    """Upload, attach to a message, list per message, read back (agents)."""

    def __init__(self, store: Store, data_dir: Path, max_bytes: int) -> None:
        self._store = store
        self._root = data_dir / "uploads"
        self.max_bytes = max_bytes

    async def upload(self, app: AppRuntime, user: str, name: str, content: bytes) -> FileRecord:
        uid = end_user_id(app.id, clean_user(user))
        if not content:
            raise InvalidParam("The file is empty. / 文件为空。")
        if len(content) > self.max_bytes:
            raise TooLarge(
                f"The image is larger than {self.max_bytes} bytes. "
                f"/ 图片超过 {self.max_bytes} 字节。"
            )
        kind = image_kind(content)
        if kind is None:
            raise UnsupportedFile(
                "Only png, jpeg, gif and webp images can be uploaded. "
                "/ 只能上传 png、jpeg、gif、webp 图片。"
            )
        file_id = new_id()
        relative = Path(app.id) / f"{file_id}.{kind.extension}"
        record = FileRecord(
            id=file_id,
            app_id=app.id,
            end_user_id=uid,
            transfer_method="local_file",
            name=(Path(name).name or f"image.{kind.extension}")[:MAX_NAME_CHARS],
            size=len(content),
            extension=kind.extension,
            mime_type=kind.mime_type,
            path=str(relative),
            url=None,
            message_id=None,
            conversation_id=None,
            created_at=utcnow(),
        )
        await to_thread.run_sync(self._write, relative, content)
        await to_thread.run_sync(self._store.files.add, record)
        return record

    def _write(self, relative: Path, content: bytes) -> None:
        target = self._root / relative
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.touch(mode=0o600)  # the customer's image: readable by kefu's user only
        target.write_bytes(content)

    async def resolve(self, app: AppRuntime, user: str, files: Sequence[Any]) -> list[FileRecord]:
        """The ``files`` of a chat message, checked: this user's unsent uploads, or image
        URLs (kept, not fetched). Raises before the turn runs."""
        if not files:
            return []
        if len(files) > MAX_FILES_PER_MESSAGE:
            raise InvalidParam(f"At most {MAX_FILES_PER_MESSAGE} files per message.")
        uid = end_user_id(app.id, clean_user(user))
        found: list[FileRecord] = []
        for item in files:
            if not isinstance(item, dict):
                raise InvalidParam("files: each file is an object with type and transfer_method")
            if item.get("type", "image") != "image":
                raise UnsupportedFile("files: only type image is supported / 只支持图片")
            method = item.get("transfer_method")
            if method == "local_file":
                found.append(await self._own_upload(app, uid, item.get("upload_file_id")))
            elif method == "remote_url":
                found.append(_remote(app.id, uid, item.get("url")))
            else:
                raise InvalidParam("files: transfer_method must be local_file or remote_url")
        return found

    async def _own_upload(self, app: AppRuntime, uid: str, file_id: Any) -> FileRecord:
        if not isinstance(file_id, str) or not is_id(file_id):
            raise InvalidParam("files: upload_file_id is required for local_file")
        record = await to_thread.run_sync(self._store.files.get, file_id)
        if record is None or record.app_id != app.id or record.end_user_id != uid:
            raise InvalidParam("files: upload_file_id not found / 文件不存在")
        if record.message_id is not None:
            raise InvalidParam("files: this upload was already sent with a message")
        return record

    async def attach(
        self, files: Sequence[FileRecord], message_id: str, conversation_id: str
    ) -> None:
        """Keep ``files`` with the message (remote URLs are stored now)."""
        if not files:  # most messages: no worker-thread hop for nothing to store
            return
        for file in files:
            if file.transfer_method == "remote_url":
                await to_thread.run_sync(self._store.files.add, file)
        await to_thread.run_sync(
            self._store.files.attach, [f.id for f in files], message_id, conversation_id
        )

    async def for_messages(self, message_ids: Sequence[str]) -> dict[str, list[FileRecord]]:
        return await to_thread.run_sync(self._store.files.for_messages, list(message_ids))

    async def sent_file(self, file_id: str) -> tuple[FileRecord, Path]:
        """A file sent with a message, and where its bytes are (agents read it)."""
        record, path = await self._stored(file_id)
        if record.message_id is None:
            raise NotFound("File Not Exists.")
        return record, path

    async def uploaded_file(self, app: AppRuntime, file_id: str) -> tuple[FileRecord, Path]:
        """An image uploaded to ``app`` (Dify's preview: the app key may read its files)."""
        record, path = await self._stored(file_id)
        if record.app_id != app.id:
            raise NotFound("File Not Exists.")
        return record, path

    async def _stored(self, file_id: str) -> tuple[FileRecord, Path]:
        record = None
        if is_id(file_id):
            record = await to_thread.run_sync(self._store.files.get, file_id)
        if record is None or record.path is None:
            raise NotFound("File Not Exists.")
        path = self._root / record.path
        if not path.is_file():
            raise NotFound("File Not Exists.")
        return record, path


def _remote(app_id: str, uid: str, url: Any) -> FileRecord:
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise InvalidParam("files: url is required for remote_url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParam("files: url must be an http(s) URL")
    name = Path(parts.path).name[:MAX_NAME_CHARS] or "image"
    extension = Path(name).suffix.lstrip(".").lower()[:16]
    return FileRecord(
        id=new_id(),
        app_id=app_id,
        end_user_id=uid,
        transfer_method="remote_url",
        name=name,
        size=-1,  # unknown: the URL is never fetched
        extension=extension,
        mime_type="",
        path=None,
        url=url,
        message_id=None,
        conversation_id=None,
        created_at=utcnow(),
    )


def purge_files_before(store: Store, data_dir: Path, app_id: str, cutoff: datetime) -> int:
    """Retention (``security.retention_days``): an app's files older than ``cutoff``, with
    their bytes. Blocking; the number forgotten."""
    paths = store.files.purge_before(app_id, cutoff)
    root = data_dir / "uploads"
    for path in paths:
        (root / path).unlink(missing_ok=True)
    return len(paths)
