"""What a plain ``pip install kefu`` brings: ``[project].dependencies`` and theirs, no extras.

Read from pyproject.toml (not from the installed metadata, which is as old as the last
``pip install -e``) and resolved against the distributions installed in this environment.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def runtime_closure() -> dict[str, metadata.Distribution]:
    """Canonical name → installed distribution for every runtime dependency, recursively.

    Markers are evaluated for this interpreter; a dependency's extras are followed only
    where a requirement asks for them (``uvicorn[standard]``)."""
    found: dict[str, metadata.Distribution] = {}
    extras_done: dict[str, set[str]] = {}
    pending = [(Requirement(text), {""}) for text in pyproject()["project"]["dependencies"]]
    while pending:
        requirement, parent_extras = pending.pop()
        marker = requirement.marker
        if marker is not None and not any(marker.evaluate({"extra": e}) for e in parent_extras):
            continue
        name = canonicalize_name(requirement.name)
        if name not in found:
            try:
                found[name] = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                raise AssertionError(f"runtime dependency {requirement} is not installed") from None
            version = found[name].version
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{name} {version} does not satisfy {requirement}"
            )
        wanted = {""} | set(requirement.extras)
        new = wanted - extras_done.setdefault(name, set())
        if not new:
            continue
        extras_done[name] |= new
        for text in found[name].requires or ():
            pending.append((Requirement(text), new))
    return found
