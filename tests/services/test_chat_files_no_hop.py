"""A chat message without files costs no worker-thread hop (most messages have none)."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest

from kefu.api.routes.files import chat_files
from kefu.services import chat_files as chat_files_module
from kefu.services.chat_files import ChatFiles


def test_attaching_no_files_stays_on_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_thread(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a worker thread was used for no files")

    monkeypatch.setattr(chat_files_module.to_thread, "run_sync", no_thread)
    files = ChatFiles(store=None, data_dir=tmp_path, max_bytes=1)  # type: ignore[arg-type]
    asyncio.run(files.attach([], "message", "conversation"))


def test_the_chat_files_dependency_is_async() -> None:
    # FastAPI runs a plain ``def`` dependency on a worker thread, once per chat message.
    assert inspect.iscoroutinefunction(chat_files)
