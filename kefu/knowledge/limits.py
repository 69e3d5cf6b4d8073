"""How much one document may be: bounded by what it unpacks to, not by its upload size.

A 484 KB DOCX can unpack to 200 MB and become 600,000 chunks. These limits are enforced
while a document is parsed, before the expensive part, and each refusal names the limit
(``TooLarge``: 413 in the API, exit 2 in the CLI). Parsing runs in a worker thread (the
API's upload path and ``kefu kb import``), so the event loop keeps answering meanwhile.
"""

from __future__ import annotations

import io
import time
import zipfile

from kefu.core.errors import InvalidParam, TooLarge

__all__ = [
    "MAX_CHUNKS",
    "MAX_PDF_PAGES",
    "MAX_TEXT_CHARS",
    "MAX_UNPACKED_BYTES",
    "MAX_ZIP_ENTRIES",
    "PARSE_SECONDS",
    "Deadline",
    "check_chunks",
    "check_text",
    "check_zip",
]

MAX_UNPACKED_BYTES = 64 * 1024 * 1024  # what a DOCX's parts may add up to, unpacked
MAX_ZIP_ENTRIES = 5_000
MAX_PDF_PAGES = 2_000
MAX_TEXT_CHARS = 5_000_000  # the text of one document (a 2,000-page manual is ~3 M)
MAX_CHUNKS = 20_000
PARSE_SECONDS = 120.0


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MB"


def check_zip(data: bytes, name: str) -> None:
    """A ZIP container (DOCX) whose parts unpack to more than allowed is refused unread.

    The sizes come from the archive's directory. Python's zipfile never reads a part
    past its declared size, so a lying header cannot smuggle in more."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidParam(f"{name}: not a readable DOCX file ({exc})") from None
    if len(parts) > MAX_ZIP_ENTRIES:
        raise TooLarge(
            f"{name}: {len(parts)} parts inside, more than the {MAX_ZIP_ENTRIES} allowed"
        )
    unpacked = sum(part.file_size for part in parts)
    if unpacked > MAX_UNPACKED_BYTES:
        raise TooLarge(
            f"{name}: unpacks to {_mb(unpacked)}, more than the {_mb(MAX_UNPACKED_BYTES)} allowed"
        )


def check_text(size: int, name: str) -> None:
    if size > MAX_TEXT_CHARS:
        raise TooLarge(
            f"{name}: more than {MAX_TEXT_CHARS:,} characters of text; split the document"
        )


def check_chunks(count: int, name: str) -> None:
    if count > MAX_CHUNKS:
        raise TooLarge(f"{name}: {count:,} chunks, more than the {MAX_CHUNKS:,} allowed")


class Deadline:
    """Parsing one document ends by ``PARSE_SECONDS``; checked between pages and blocks."""

    def __init__(self, name: str, seconds: float | None = None) -> None:
        self.name = name
        self.seconds = PARSE_SECONDS if seconds is None else seconds
        self._until = time.monotonic() + self.seconds

    def check(self) -> None:
        if time.monotonic() > self._until:
            raise TooLarge(f"{self.name}: reading it took more than {self.seconds:.0f} s")
