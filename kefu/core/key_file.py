"""Keys kept in the data dir, so a restart does not lock out the people who hold them.

Without ``KEFU_ADMIN_KEY`` a new admin key on every start would log every console user
out; kept in ``<data dir>/admin.key`` (mode 0600) it lasts as long as the data it guards.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from kefu.core.errors import ConfigError

__all__ = ["read_or_create_key"]


def read_or_create_key(path: Path, prefix: str) -> tuple[str, bool]:
    """The key stored at ``path``, or a new ``prefix``-key written there; True when new."""
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the key file ({exc})", file=str(path)) from None
    if key:
        return key, False
    key = prefix + secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    # Created 0600 from the start: the key is never readable by others, not even briefly.
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    staging.replace(path)
    return key, True
