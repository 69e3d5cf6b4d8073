"""``${NAME}`` and ``${NAME:-default}`` in an app file: a value from the environment, read
when the file is loaded, so every URL (model servers, embedders, rerankers, webhooks) can differ
per deployment without editing the file. ``$${`` is a literal ``${``.

Tool templates keep their own ``{env.NAME|default}``, filled at call time; secrets belong in
the ``*_env`` fields (``api_key_env``, ``secret_env``), which are never stored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from kefu.core.errors import ConfigError

__all__ = ["expand_env"]

# ${NAME} or ${NAME:-default}; $${ escapes. Names as the shell writes them.
_PLACEHOLDER = re.compile(r"\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(data: Any, *, file: str, environ: Mapping[str, str] | None = None) -> Any:
    """``data`` (parsed YAML) with every placeholder in its string values filled; an unset
    variable without a default is a :class:`ConfigError` naming the file and the key."""
    env = os.environ if environ is None else environ
    return _expand(data, env, file, "")


def _expand(value: Any, env: Mapping[str, str], file: str, key: str) -> Any:
    if isinstance(value, str):
        return _fill(value, env, file, key) if "${" in value else value
    if isinstance(value, dict):
        return {k: _expand(v, env, file, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, file, f"{key}[{n}]") for n, v in enumerate(value)]
    return value


def _fill(text: str, env: Mapping[str, str], file: str, key: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escaped, name, default = match.groups()
        if escaped:
            return match.group(0)[1:]
        found = env.get(name)
        if found:
            return found
        if default is not None:
            return default
        raise ConfigError(
            f"environment variable {name} is not set (give a default: ${{{name}:-…}})",
            file=file,
            key=key,
        )

    return _PLACEHOLDER.sub(replace, text)
