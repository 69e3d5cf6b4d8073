"""Token lists of the chunks last indexed, by content hash, so a rebuild tokenizes only the
chunks that are new: jieba is most of a lexical rebuild's cost (~0.2 CPU ms a chunk), while
BM25 is rebuilt from token lists in well under a second for 10k chunks.

With a folder the memo is saved there (``tokens-<key>.json``, the key naming the tokenizer
and jieba versions, so a new tokenizer starts afresh) and read back by the next build, in
this process or the next: between builds it is not held in memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import orjson

from kefu.knowledge._jieba import jieba
from kefu.knowledge.build_report import BuildProgress
from kefu.knowledge.tokenizer import TOKENIZER_VERSION, tokenize

__all__ = ["ChunkTokens"]

logger = logging.getLogger(__name__)

_PROGRESS_EVERY = 256
_PREFIX = "tokens-"
_FORMAT = 1


class ChunkTokens:
    """A memo of ``tokenize(text)`` that holds exactly the texts of its last call."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._tokens: dict[bytes, tuple[str, ...]] | None = None if folder else {}

    def tokenize(
        self, texts: Sequence[str], progress: BuildProgress | None = None
    ) -> tuple[list[tuple[str, ...]], int]:
        """The tokens of each text, and how many texts had to be tokenized (not memoised).

        Tokens are interned: the same word in ten thousand chunks is one string in memory.
        """
        digests = [hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest() for text in texts]
        known = self._tokens if self._tokens is not None else self._read()
        fresh: dict[bytes, tuple[str, ...]] = {}
        missing = {digest for digest in digests if digest not in known}
        if progress is not None:
            progress.start("tokenize", len(missing))
        done = 0
        result: list[tuple[str, ...]] = []
        for digest, text in zip(digests, texts, strict=True):
            tokens = known.get(digest)
            if tokens is None:
                tokens = fresh.get(digest)
            if tokens is None:
                tokens = tuple(sys.intern(token) for token in tokenize(text))
                done += 1
                if progress is not None and done % _PROGRESS_EVERY == 0:
                    progress.advance("tokenize", _PROGRESS_EVERY)
            fresh[digest] = tokens
            result.append(tokens)
        if progress is not None and done % _PROGRESS_EVERY:
            progress.advance("tokenize", done % _PROGRESS_EVERY)
        if self.folder is None:
            self._tokens = fresh
        elif done or len(fresh) != len(known):
            self._write(fresh)
        return result, done

    def _path(self) -> Path:
        assert self.folder is not None
        seed = f"{_FORMAT}:{TOKENIZER_VERSION}:{jieba.__version__}"
        return self.folder / f"{_PREFIX}{hashlib.sha256(seed.encode()).hexdigest()[:16]}.json"

    def _read(self) -> dict[bytes, tuple[str, ...]]:
        try:
            saved = orjson.loads(self._path().read_bytes())
            return {
                bytes.fromhex(digest): tuple(sys.intern(token) for token in tokens)
                for digest, tokens in saved.items()
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            logger.warning("ignoring unreadable chunk tokens in %s: %s", self.folder, exc)
            return {}

    def _write(self, tokens: dict[bytes, tuple[str, ...]]) -> None:
        """Save ``tokens`` (a failure is logged: the next build tokenizes what it must)."""
        target = self._path()
        staging = target.with_name(f".tmp-{uuid.uuid4().hex}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging.write_bytes(orjson.dumps({d.hex(): list(t) for d, t in tokens.items()}))
            os.replace(staging, target)
        except OSError as exc:
            logger.warning("could not save chunk tokens to %s: %s", self.folder, exc)
            staging.unlink(missing_ok=True)
            return
        for other in target.parent.glob(f"{_PREFIX}*.json"):
            if other != target:
                other.unlink(missing_ok=True)  # another tokenizer's
